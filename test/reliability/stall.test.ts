// A master that stops running for longer than -heartbeatTimeout (SIGSTOP here; a long request
// or a paused machine alike) must not blame its workers: their jobs stay theirs and run once.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, freeze } from '../helpers/q.js';

t.test('a stalled master blames no worker: the job runs once, on its first attempt', async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster(['-heartbeatTimeout', '3s']);
  await c.startWorker('w1');
  await c.startWorker('w2');
  const marker = join(c.dir, 'marker');
  const h = c.add(['-shareWorkingPath', '-add', `echo start >> ${marker}; sleep 9; echo end >> ${marker}`]);
  await c.waitForStatus(h, ['running']);
  freeze(t, master.pid);
  await new Promise((r) => setTimeout(r, 6000)); // twice the timeout, heartbeats piling up
  process.kill(master.pid, 'SIGCONT');
  await master.waitForOutput(/The master did not run for \d+\.\ds/);
  const done = await c.waitForStatus(h, ['done', 'failed'], 20_000);
  t.equal(done.status, 'done');
  t.equal(readFileSync(marker, 'utf8'), 'start\nend\n', 'started once and ran to its end');
  const [job] = JSON.parse(c.q(['-list', h, '-json']).stdout);
  t.equal(job.attempt, 1, 'never taken from its worker');
  t.notMatch(master.out, /not heard from/, 'no worker was declared lost');
});
