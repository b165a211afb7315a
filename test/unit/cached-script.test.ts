// bin/q and bin/dispatch-q run their bundle from V8's code cache (src/cli/cachedScript.ts):
// the first run writes it, the next ones use it, and a cache never runs another build's code.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const LOADER = pathToFileURL(fileURLToPath(new URL('../../dist/cli/cachedScript.js', import.meta.url))).href;

/** Runs `file` as bin/q runs its bundle: what it printed, and how runCached ran it. */
function run(file: string, env: NodeJS.ProcessEnv = {}): { out: string; use: string; cacheFile: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { runCached } from '${LOADER}'; process.stderr.write(JSON.stringify(runCached(${JSON.stringify(file)})));`], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...env },
  });
  const said = JSON.parse(r.stderr) as { use: string; cacheFile: string };
  return { out: r.stdout.trim(), ...said };
}

function bundle(t: Test, text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'q-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'b.cjs');
  writeFileSync(file, text);
  return { dir, file };
}

const caches = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.cache'));

t.test('the first run writes the cache beside it at its exit, the next one uses it, and both run the same', async (t) => {
  // What a bundle needs of its wrapper: require, module, __filename, strict mode, and the
  // launcher's import() (importHook.ts: the client's import of the master's and worker's modules).
  const { dir, file } = bundle(
    t,
    `const { basename } = require('node:path'); module.exports = 1; const strict = this === undefined;\n` +
      `globalThis[Symbol.for('q.import')](require('node:url').pathToFileURL(__dirname + '/m.mjs').href).then((m) => console.log(basename(__filename), typeof exports, strict, m.x));\n`,
  );
  writeFileSync(join(dir, 'm.mjs'), 'export const x = 42;\n');
  const first = run(file);
  t.same([first.out, first.use], ['b.cjs object true 42', 'compiled']);
  t.equal(dirname(first.cacheFile), dir);
  t.same(caches(dir), [first.cacheFile.slice(dir.length + 1)], 'one cache, beside it');
  const second = run(file);
  t.same([second.out, second.use], ['b.cjs object true 42', 'from cache']);
  t.same(run(file).use, 'from cache', 'and again');
});

t.test("a rebuilt bundle of the same length never runs the last build's code", async (t) => {
  const { dir, file } = bundle(t, `console.log('build one');\n`);
  t.equal(run(file).use, 'compiled');
  t.equal(run(file).out, 'build one');
  writeFileSync(file, `console.log('build two');\n`); // V8 checks a cache's source by its length alone
  t.same([run(file).out, run(file).use], ['build two', 'from cache']);
  t.equal(caches(dir).length, 2, "each build's own (the build removes the old ones)");
});

t.test('a cache V8 rejects (damaged, another Node) is compiled past and written again', async (t) => {
  const { file } = bundle(t, `console.log('ran');\n`);
  const { cacheFile } = run(file);
  writeFileSync(cacheFile, 'not a code cache');
  const damaged = run(file);
  t.same([damaged.out, damaged.use], ['ran', 'compiled']);
  t.same(run(file).use, 'from cache');
});

t.test("a bundle in a folder that cannot be written keeps its cache in the user's cache folder", async (t) => {
  const { dir, file } = bundle(t, `console.log('ran');\n`);
  const home = mkdtempSync(join(tmpdir(), 'q-cache-home-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  // As root, only an immutable folder cannot be written (a read-only install as a user sees it).
  const immutable = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
  if (immutable.status !== 0) return t.skip(`chattr +i is not available here: ${immutable.stderr || String(immutable.error)}`, () => {});
  t.teardown(() => void spawnSync('chattr', ['-i', dir]));
  const env = { XDG_CACHE_HOME: home };
  const first = run(file, env);
  t.same([first.out, first.use], ['ran', 'compiled']);
  t.equal(dirname(first.cacheFile), join(home, 'q'));
  t.equal(statSync(join(home, 'q')).mode & 0o777, 0o700, 'a folder of the user alone');
  t.same(run(file, env).use, 'from cache');
  t.same(caches(dir), [], 'nothing beside the bundle');
});
