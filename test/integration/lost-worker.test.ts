import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor, freeze } from '../helpers/q.js';

t.test('a silent worker loses its job to another; when it comes back it drops its copy', async (t) => {
  const c = new Cluster(t);
  await c.startMaster(['-heartbeatTimeout', '3s']);
  const w1 = await c.startWorker('w1');
  const marker = join(c.dir, 'marker');
  const h = c.add(['-shareWorkingPath', '-add', `sleep 8 && echo ran >> ${marker}`]);
  const first = await c.waitForStatus(h, ['running']);
  t.match(first.worker, /^w1 /);
  await c.startWorker('w2');
  freeze(t, w1.pid); // the machine freezes: no heartbeats, no socket close
  const moved = await waitFor('the job to move to w2', () => {
    const r = c.row(h);
    return r && r.worker.startsWith('w2 ') && r.status === 'running' && r;
  }, 15_000, 200);
  t.ok(moved, 'requeued and started on w2');
  await c.master!.waitForOutput(new RegExp(`Requeued ${h}: worker w1 not heard from`));
  process.kill(w1.pid, 'SIGCONT');
  await w1.waitForOutput(new RegExp(`Finished ${h}: exit \\d+ \\(The master took this job away\\)`), 10_000);
  const done = await c.waitForStatus(h, ['done', 'failed'], 20_000);
  t.equal(done.status, 'done');
  t.match(done.worker, /^w2 /);
  t.equal(readFileSync(marker, 'utf8'), 'ran\n', 'the job ran to the end exactly once');
  const [job] = JSON.parse(c.q(['-list', h, '-json']).stdout);
  t.equal(job.attempt, 2);
});

t.test('a worker that comes back is given its job again only after its old copy is gone', async (t) => {
  const c = new Cluster(t);
  await c.startMaster(['-heartbeatTimeout', '3s']);
  const w1 = await c.startWorker('w1');
  const marker = join(c.dir, 'marker');
  // Ignores TERM, so the old copy takes the whole grace period to die.
  const h = c.add(['-shareWorkingPath', '-add', `trap '' TERM; sleep 10; echo ran >> ${marker}`]);
  await c.waitForStatus(h, ['running']);
  freeze(t, w1.pid);
  await c.master!.waitForOutput(new RegExp(`Requeued ${h}: worker w1 not heard from`), 15_000);
  process.kill(w1.pid, 'SIGCONT');
  const done = await c.waitForStatus(h, ['done', 'failed'], 30_000);
  t.equal(done.status, 'done', done.exitReason);
  t.match(done.worker, /^w1 /);
  t.equal(readFileSync(marker, 'utf8'), 'ran\n', 'the old copy was killed; the new one ran to the end');
  t.equal(JSON.parse(c.q(['-list', h, '-json']).stdout)[0].attempt, 2);
});

t.test('a job that loses its worker more often than -retries allows fails with "worker lost"', async (t) => {
  const c = new Cluster(t);
  await c.startMaster(['-heartbeatTimeout', '2s']);
  const w1 = await c.startWorker('w1');
  const h = c.add(['-retries', '0', '-add', 'sleep 30']);
  await c.waitForStatus(h, ['running']);
  freeze(t, w1.pid);
  const row = await c.waitForStatus(h, ['failed', 'ready'], 15_000);
  t.equal(row.status, 'failed', 'not queued again');
  t.equal(row.exitCode, '125', 'a finished job always has an exit code');
  t.match(row.exitReason, /^Worker lost: worker w1 not heard from for \d+s \(1 times; -retries 0\)$/);
});
