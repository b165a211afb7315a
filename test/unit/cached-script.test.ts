// bin/q and bin/dispatch-q run their bundle from V8's code cache (src/cli/cachedScript.ts):
// the first run writes it, the next ones use it, and a cache never runs another build's code.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const LOADER = pathToFileURL(fileURLToPath(new URL('../../dist/cli/cachedScript.js', import.meta.url))).href;

/** Runs `file` as bin/q runs its bundle: what it printed, and what runCached said of the cache. */
function run(file: string): { out: string; use: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { runCached } from '${LOADER}'; process.stderr.write(runCached(${JSON.stringify(file)}));`], { encoding: 'utf8', timeout: 30_000 });
  return { out: r.stdout.trim(), use: r.stderr.trim() };
}

const caches = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.cache'));

t.test('the first run writes the cache at its exit, the next one uses it, and both run the same', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'q-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'b.cjs');
  writeFileSync(join(dir, 'm.mjs'), 'export const x = 42;\n');
  // What a bundle needs of its wrapper: require, module, __filename, and the launcher's import()
  // (importHook.ts: the client's import of the master's and worker's modules).
  writeFileSync(file, `const { basename } = require('node:path'); module.exports = 1;\nglobalThis[Symbol.for('q.import')](require('node:url').pathToFileURL(__dirname + '/m.mjs').href).then((m) => console.log(basename(__filename), typeof exports, m.x));\n`);
  const first = run(file);
  t.same(first, { out: 'b.cjs object 42', use: 'written at exit' });
  t.equal(caches(dir).length, 1, 'one cache, beside it');
  t.same(run(file), { out: 'b.cjs object 42', use: 'used' });
  t.same(run(file), { out: 'b.cjs object 42', use: 'used' }, 'and again');
});

t.test("a rebuilt bundle of the same length never runs the last build's code", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'q-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'b.cjs');
  writeFileSync(file, `console.log('build one');\n`);
  t.equal(run(file).use, 'written at exit');
  t.equal(run(file).out, 'build one');
  writeFileSync(file, `console.log('build two');\n`); // V8 checks a cache's source by its length alone
  t.same(run(file), { out: 'build two', use: 'written at exit' });
  t.same(run(file), { out: 'build two', use: 'used' });
  t.equal(caches(dir).length, 2, "each build's own (the build removes the old ones)");
});

t.test('a cache V8 rejects (damaged, another Node) is compiled past and written again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'q-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'b.cjs');
  writeFileSync(file, `console.log('ran');\n`);
  run(file);
  const [cache] = caches(dir);
  writeFileSync(join(dir, cache!), 'not a code cache');
  t.same(run(file), { out: 'ran', use: 'written at exit' });
  t.same(run(file), { out: 'ran', use: 'used' });
});
