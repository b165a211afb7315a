// A master's and worker's log lines go out once a turn, in one write (common/turnLines.ts),
// and none is lost when the process exits, however it exits.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { linesByTurn } from '../../src/common/turnLines.js';

const turn = () => new Promise((r) => setImmediate(r));

t.test("the lines of one turn are one write, in order, at the turn's end", async (t) => {
  const writes: string[] = [];
  const line = linesByTurn((text) => writes.push(text));
  for (let i = 0; i < 1000; i++) line(`Worker sim-${i} disconnected`);
  t.equal(writes.length, 0, 'nothing written within the turn');
  await turn();
  t.equal(writes.length, 1, '1,000 lines, one write');
  t.same(writes[0]!.split('\n').slice(0, 2), ['Worker sim-0 disconnected', 'Worker sim-1 disconnected']);
  t.equal(writes[0]!.split('\n').length, 1000);
  line('a later line');
  await turn();
  t.same(writes.slice(1), ['a later line'], 'the next turn, its own write');
  await turn();
  t.equal(writes.length, 2, 'nothing more');
});

t.test('a process that exits writes what it holds first', async (t) => {
  const mod = pathToFileURL(fileURLToPath(new URL('../../dist/common/turnLines.js', import.meta.url))).href;
  const run = (tail: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `import { linesByTurn } from '${mod}'; const line = linesByTurn((text) => console.log(text)); line('one'); line('two'); ${tail}`], { encoding: 'utf8', timeout: 30_000 });
  const exited = run(`process.on('exit', () => line('said at exit')); process.exit(3);`);
  t.equal(exited.status, 3);
  t.equal(exited.stdout, 'one\ntwo\nsaid at exit\n', 'process.exit, and a line from a later exit handler');
  const thrown = run(`throw new Error('boom');`);
  t.not(thrown.status, 0);
  t.equal(thrown.stdout, 'one\ntwo\n', 'an uncaught error');
  t.match(thrown.stderr, /boom/);
});
