// History kept in bounds on purpose: -delete of a finished job removes its log too, and a
// master started with -keepFinished removes finished jobs older than that, with their logs,
// while ready ones stay.
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

t.test('-delete of a finished job removes its log; -keepFinished prunes old finished jobs at start', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const gone = c.add(['-add', 'echo', 'deleted']);
  const old = c.add(['-add', 'echo', 'old']);
  await c.waitForStatus(gone, ['done']);
  await c.waitForStatus(old, ['done']);
  const logs = join(c.dir, 'state', 'logs');
  t.ok(readdirSync(logs).some((f) => f.startsWith(gone)), 'a finished job has its log');
  t.equal(c.q(['-delete', gone]).stdout, 'Deleted 1/1 jobs\n');
  t.notOk(readdirSync(logs).some((f) => f.startsWith(gone)), 'deleted with its log');
  const waiting = c.add(['-queue', 'nobody', '-add', 'true']);
  await c.master!.stop();
  await new Promise((r) => setTimeout(r, 1500)); // `old` ended more than a second ago
  const m = await c.startMaster(['-keepFinished', '1s']);
  await m.waitForOutput(/Removed 1 finished jobs older than -keepFinished, with their logs/);
  t.equal(c.row(old), undefined, 'the old finished job is gone');
  t.notOk(existsSync(join(logs, `${old}.log`)), 'with its log');
  t.equal(c.row(waiting)?.status, 'ready', 'a ready job is never pruned, however old');
  t.match(c.q(['-mode', 'master', '-keepFinished', 'soon']).stderr, /bad -keepFinished 'soon'/);
});

t.test("a worker keeps no files of jobs it no longer holds, and clears what an earlier version left", async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  // What a worker that kept every job's files leaves behind: 300 finished jobs' output copies.
  const jobs = join(c.dir, 'scratch-w1', '.q', 'jobs');
  for (let i = 0; i < 300; i++) {
    const dir = join(jobs, `J-old${String(i).padStart(3, '0')}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'stdout'), 'old output\n');
  }
  await c.startWorker('w1');
  await waitFor('the old files to go', () => readdirSync(jobs).length === 0, 20_000);
  const h = c.add(['-add', 'echo', 'new']);
  await c.waitForStatus(h, ['done']);
  await waitFor("the job's files to go once the master has its result", () => !existsSync(join(jobs, h)), 10_000);
  t.equal(c.q(['-log', h]).stdout, 'new\n', 'the master has it all');
});
