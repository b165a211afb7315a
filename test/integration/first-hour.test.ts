// What a new user meets in the first hour, run as they would run it: the README's `npm start`
// and a second worker from the same checkout, a worker pointed where no master listens.
import t from 'tap';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN_Q, Cluster } from '../helpers/q.js';

t.test('a second worker on a basePath in use is refused in one line naming the first', async (t) => {
  const c = new Cluster(t);
  // `npm start`: a master with its -localWorker, whose basePath is ./scratch.
  const master = await c.startMaster(['-localWorker']);
  await master.waitForOutput(/Worker \S+ connected/);
  // `q -mode worker -slots 4` in another shell of the same checkout.
  const second = c.spawnQ(['-mode', 'worker', '-masterPort', String(c.port), '-slots', '4']);
  t.equal(await second.exited(), 2, 'it exits with a mistake');
  const lines = second.out.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${second.out}`);
  t.match(lines[0], /^q: another worker \(worker \S+, pid \d+ on \S+\) is using the basePath \S+\/scratch: stop it, or give this one its own -basePath$/);
  // The first was never pushed off.
  t.notMatch(master.out, /replaced by a newer connection|reconnected/i);
  t.equal(c.q(['-w', '-tabs']).stdout.trim().split('\n').length, 1, 'one worker, still there');
});

t.test('a worker pointed where no master listens says so at once, and when it gets through', async (t) => {
  const c = new Cluster(t);
  // A master made the token, and is gone (a worker started before it, or pointed elsewhere).
  await (await c.startMaster()).stop('SIGTERM');
  const w = c.spawnQ(['-mode', 'worker', '-masterPort', String(c.port), '-handle', 'lonely', '-basePath', join(c.dir, 'scratch-lonely')]);
  await w.waitForOutput(new RegExp(`Cannot reach the master at ws://127\\.0\\.0\\.1:${c.port}/: nothing is listening there; trying again`), 10_000);
  t.pass('said at once, at the default verbosity');
  await c.startMaster();
  await w.waitForOutput(/Reached the master at/, 20_000);
  t.equal((w.out.match(/Cannot reach the master/g) ?? []).length, 1, 'once, not at every try');
});

t.test('-list on an 80-column terminal fits it; a pipe gets the rows as before', async (t) => {
  if (spawnSync('script', ['--version']).status !== 0) return void t.skip('no script(1) to make a terminal', () => {});
  const c = new Cluster(t);
  await c.startMaster();
  const long = `echo ${'x'.repeat(150)}`;
  c.add(['-hold', '-add', long]);
  c.add(['-queue', 'gpu', '-add', 'echo waiting for a gpu worker']);
  // script(1) gives the client a terminal of its own, 80 columns wide.
  const shown = spawnSync('script', ['-qec', `stty cols 80 rows 24; /usr/bin/env -u NODE_OPTIONS ${process.execPath} ${BIN_Q} -masterPort ${c.port} -list`, '/dev/null'], {
    cwd: c.dir, env: c.env, encoding: 'utf8', timeout: 30_000,
  });
  const lines = shown.stdout.split(/\r?\n/).filter(Boolean);
  t.equal(lines.length, 2, shown.stdout);
  for (const l of lines) t.ok([...l].length <= 80, `${[...l].length} columns: ${l}`);
  t.match(lines[0], /echo x+…$/, 'the command cut, and said to be');
  const piped = c.q(['-list']).stdout.split('\n')[0]!;
  t.ok(piped.length > 80 && piped.includes('x'.repeat(38)), `piped, the row is as before (${piped.length} columns)`);
});
