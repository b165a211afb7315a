// import() for the client's bundle, which bin/q runs from V8's code cache (cachedScript.ts):
// on Node 20 a function restored from a code cache has no dynamic-import callback
// (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), and the vm option that gives it one is
// experimental and warns at every use. So the launcher, a module, lends its own import().
const HOOK = Symbol.for('q.import');

type Importer = (url: string) => Promise<unknown>;
const hooks = globalThis as { [HOOK]?: Importer };

/** The launcher's import(), for what it runs. */
export function lendImport(importer: Importer): void {
  hooks[HOOK] = importer;
}

/** import() of `relative` to `base` (an import.meta.url): through the lent import() where there is one. */
export function importFrom<T>(relative: string, base: string): Promise<T> {
  const url = new URL(relative, base).href;
  return (hooks[HOOK] ?? ((u: string) => import(u)))(url) as Promise<T>;
}
