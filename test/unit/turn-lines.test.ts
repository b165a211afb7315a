// A master's and worker's log lines go out once a turn, a few writes of whole lines
// (common/turnLines.ts); a warning goes out at once; none is lost by process.exit or an
// uncaught error.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { linesByTurn } from '../../src/common/turnLines.js';

const turn = () => new Promise((r) => setImmediate(r));

t.test("the lines of one turn are one write, in order, at the turn's end", async (t) => {
  const writes: string[] = [];
  const { line } = linesByTurn((text) => writes.push(text));
  const said = Array.from({ length: 1000 }, (_, i) => `Worker sim-${i} disconnected`);
  for (const l of said) line(l);
  t.equal(writes.length, 0, 'nothing written within the turn');
  await turn();
  t.ok(writes.length > 1 && writes.length <= 10, `1,000 lines (27 KB), ${writes.length} writes`);
  t.ok(
    writes.every((w) => Buffer.byteLength(w) + 1 <= 4096),
    'each at most PIPE_BUF with its newline: whole in a pipe another process writes too',
  );
  t.same(writes.join('\n').split('\n'), said, 'whole lines, in order');
  const n = writes.length;
  line('a later line');
  await turn();
  t.same(writes.slice(n), ['a later line'], 'the next turn, its own write');
  await turn();
  t.equal(writes.length, n + 1, 'nothing more');
});

t.test('a warning is written at once, after the lines before it', async (t) => {
  const writes: string[] = [];
  const out = linesByTurn((text) => writes.push(text));
  out.line('Worker w1 connected');
  out.now('Worker w2 failed: disk full');
  t.same(writes, ['Worker w1 connected\nWorker w2 failed: disk full']);
  out.line('after it');
  await turn();
  t.same(writes.slice(1), ['after it']);
});

t.test('a process that exits writes what it holds first', async (t) => {
  const mod = pathToFileURL(fileURLToPath(new URL('../../dist/common/turnLines.js', import.meta.url))).href;
  const run = (tail: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `import { linesByTurn } from '${mod}'; const { line } = linesByTurn((text) => console.log(text)); line('one'); line('two'); ${tail}`], { encoding: 'utf8', timeout: 30_000 });
  const exited = run(`process.on('exit', () => line('said at exit')); process.exit(3);`);
  t.equal(exited.status, 3);
  t.equal(exited.stdout, 'one\ntwo\nsaid at exit\n', 'process.exit, and a line from a later exit handler');
  const thrown = run(`throw new Error('boom');`);
  t.not(thrown.status, 0);
  t.equal(thrown.stdout, 'one\ntwo\n', 'an uncaught error');
  t.match(thrown.stderr, /boom/);
});
