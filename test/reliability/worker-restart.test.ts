// A worker killed (-9) and restarted while its process jobs run: it finds them again, running
// or finished, and reports each truthfully and once; none is run a second time.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

t.test('a restarted worker takes back its running and finished process jobs', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const w = await c.startWorker('rw', ['-slots', '3']);
  const marker = join(c.dir, 'ran');
  const running = c.add(['-shareWorkingPath', '-add', `echo begun; sleep 7; echo A >> ${marker}; echo finished`]);
  const quick = c.add(['-shareWorkingPath', '-add', `sleep 2.5; echo B >> ${marker}; exit 4`]);
  const victim = c.add(['-shareWorkingPath', '-add', 'sleep 60']);
  for (const h of [running, quick, victim]) await c.waitForStatus(h, ['running']);
  await w.stop('SIGKILL');
  t.equal(c.row(quick)!.status, 'running', 'quick has not ended before the worker went');
  await new Promise((r) => setTimeout(r, 3500)); // `quick` ends while no worker watches
  const again = await c.startWorker('rw', ['-slots', '3']);
  await again.waitForOutput(new RegExp(`Took back ${running}`));
  t.equal(c.row(running)!.status, 'running', 'running was still running when taken back');
  const rq = await c.waitForStatus(quick, ['done', 'failed']);
  t.equal(rq.exitCode, '4', 'the exit status of a job that ended while the worker was down');
  const rr = await c.waitForStatus(running, ['done', 'failed'], 15_000);
  t.equal(rr.status, 'done');
  t.equal(c.q(['-log', running]).stdout, 'begun\nfinished\n', 'its output once, across the restart');
  c.q(['-kill', victim]);
  const rv = await c.waitForStatus(victim, ['done', 'failed'], 15_000);
  t.equal(rv.exitCode, '143', 'a taken-back job can still be killed');
  const jobs = JSON.parse(c.q(['-list', '-json']).stdout) as { attempt: number }[];
  t.same(jobs.map((j) => j.attempt), [1, 1, 1], 'none was run again');
  t.equal(readFileSync(marker, 'utf8').split('\n').filter(Boolean).sort().join(','), 'A,B', 'each ran once');
});

t.test('a worker restarted during a kill’s grace period keeps its reason and its KILL', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const opts = ['-killGrace', '6'];
  const w = await c.startWorker('rw', opts);
  // Over its time limit at 2 s; it ignores the TERM, so only the KILL 6 s later ends it.
  const h = c.add(['-shareWorkingPath', '-time', '2s', '-add', "trap '' TERM; sleep 60"]);
  await c.waitForStatus(h, ['running']);
  await waitFor('the TERM', () => readFileSync(join(c.dir, 'scratch-rw', '.q', 'jobs', h, 'run.json'), 'utf8').includes('"kill"'), 10_000, 100);
  await w.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  await c.startWorker('rw', opts);
  const r = await c.waitForStatus(h, ['done', 'failed'], 20_000);
  t.equal(r.exitCode, '137', 'KILLed when the grace period ran out');
  t.match(r.exitReason, /^Time limit exceeded: ran 2\.\ds, limit 2s$/, 'the reason the kill began with');
});
