// The pick reads only what the worker could run (store/readyClasses.ts): its cost is counted
// in index probes, not seconds. And a database of the previous schema (fixture made by the
// previous version's store) gets its classes and picks as before.
import t from 'tap';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/q.js';
import { openDb } from '../../src/store/db.js';
import { migrations } from '../../src/store/migrations.js';
import { JobStore, type ClaimLimits } from '../../src/store/jobs.js';
import { makeJobSpec, type JobSpec } from '../../src/protocol/jobSpec.js';

function spec(over: Partial<JobSpec> = {}): JobSpec {
  return makeJobSpec({ command: 'true', workingPath: '/tmp', time: 3600, mem: 100, disk: 1000, ...over });
}

const plain: ClaimLimits = { worker: 'w1', host: 'h', memBudget: 1000, maxTime: null, docker: false, bare: true, cpuBudget: 8, gpuBudget: 0, queues: [] };
const NOW = 1_764_582_000_000;

t.test('a backlog no worker can take costs the pick nothing', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  jobs.insert(Array.from({ length: 10_000 }, () => spec({ queue: 'nobody' })), NOW);
  jobs.insert(Array.from({ length: 2_000 }, () => spec({ dockerImage: 'busybox' })), NOW);
  jobs.insert(Array.from({ length: 2_000 }, () => spec({ mem: 64_000 })), NOW);
  jobs.insert(Array.from({ length: 2_000 }, () => spec({ workerHandle: 'elsewhere' })), NOW);
  const [runnable] = jobs.insert([spec({ command: 'echo me' })], NOW);
  const before = jobs.ready.probes;
  t.equal(jobs.claim(plain)?.handle, runnable, 'the one job it can run, behind 16,000 it cannot');
  t.equal(jobs.ready.probes - before, 1, 'one index probe: the one class that fits');
  const again = jobs.ready.probes;
  t.equal(jobs.claim(plain), undefined);
  t.equal(jobs.ready.probes - again, 1, 'its class is found empty once...');
  const idle = jobs.ready.probes;
  for (let i = 0; i < 1000; i++) t.equal(jobs.claim({ ...plain, worker: `w${i}` }), undefined);
  t.equal(jobs.ready.probes - idle, 0, '...then 1,000 idle workers asking cost no query at all');
  t.equal(jobs.ready.markedCount, 4, 'the four unrunnable classes stay, unprobed');
});

t.test('across classes the best head wins: lowest priority number, then oldest', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const [a] = jobs.insert([spec({ mem: 10 })], NOW);
  const [b] = jobs.insert([spec({ mem: 20, priority: 1 })], NOW);
  const [c] = jobs.insert([spec({ mem: 10 })], NOW);
  const [d] = jobs.insert([spec({ mem: 30 })], NOW);
  t.same([1, 2, 3, 4].map(() => jobs.claim(plain)?.handle), [b, a, c, d]);
});

t.test('a requeued or rerun job is found again after its class was found empty', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const [h] = jobs.insert([spec()], NOW);
  const first = jobs.claim(plain)!;
  t.equal(jobs.claim(plain), undefined, 'its class is empty now');
  t.ok(jobs.requeue(h!, first.lease, NOW).requeued);
  const second = jobs.claim(plain)!;
  t.equal(second.handle, h, 'requeued: picked again');
  jobs.markRunning(h!, second.lease, NOW);
  jobs.finish(h!, second.lease, { exitCode: 1, exitReason: null, realTime: 1, userTime: 0, maxMem: 1, maxDisk: 0 }, NOW);
  t.equal(jobs.claim(plain), undefined);
  t.same(jobs.rerun([h!]), [h]);
  t.equal(jobs.claim(plain)?.handle, h, 'rerun: picked again');
});

t.test('a reopened table picks what it holds', async (t) => {
  const path = join(t.testdir(), 'jobs.db');
  const db = openDb(path);
  const [h] = new JobStore(db).insert([spec({ queue: 'gpu' })], NOW);
  db.close();
  const jobs = new JobStore(openDb(path));
  t.equal(jobs.claim({ ...plain, queues: ['gpu'] })?.handle, h);
});

t.test("a database of the previous schema (6) gets its classes; picks go as they did", async (t) => {
  const path = join(t.testdir(), 'v6.sqlite');
  copyFileSync(join(FIXTURES, 'db', 'v6.sqlite'), path);
  const db = openDb(path);
  t.equal(db.pragma('user_version', { simple: true }), migrations.length, 'brought up to date');
  const jobs = new JobStore(db);
  const cmd = (limits: ClaimLimits) => {
    const c = jobs.claim(limits);
    return c && c.spec.command;
  };
  t.same([cmd(plain), cmd(plain), cmd(plain), cmd(plain)], ['echo a', 'echo cpus', 'echo plain', undefined], 'a plain worker: its three, in order');
  t.equal(cmd({ ...plain, worker: 'w2' }), 'echo pinned');
  t.equal(cmd({ ...plain, queues: ['gpu'], gpuBudget: 1 }), 'echo q');
  // Migration 14 put the image into the class: a worker that runs only other images passes it over.
  t.equal(cmd({ ...plain, docker: true, policy: { allowNetwork: true, allowImages: ['lab/*'] } }), undefined, 'not an image this worker runs');
  t.equal(cmd({ ...plain, docker: true, policy: { allowNetwork: false, allowImages: ['busy*'] } }), 'echo docker');
  t.equal(cmd({ ...plain, memBudget: 100_000 }), 'echo big');
  t.equal(jobs.pages.page([{ key: 'status', value: 'done' }], 0, 10, () => true).jobs.length, 1, 'the finished job is still there');
  // Migration 12 counted the jobs it found (the picks above moved 7 of them on).
  const truth = db.prepare(`SELECT status, coalesce(queue, '') AS queue, count(*) AS n FROM jobs GROUP BY 1, 2 ORDER BY 1, 2`).all();
  t.same(jobs.counts(), truth, 'job_counts: what the table holds');
  t.equal(jobs.count(), (db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n);
});

t.test('a worker is sent no job its container policy refuses: a network, an image it does not allow', async (t) => {
  const jobs = new JobStore(openDb(join(t.testdir(), 'q.sqlite')));
  jobs.insert([
    spec({ command: 'net', dockerImage: 'lab/train:1', network: true }),
    spec({ command: 'other', dockerImage: 'evil/x' }),
    spec({ command: 'lab', dockerImage: 'lab/train:2' }),
    spec({ command: 'plain' }),
  ], NOW);
  const strict = { ...plain, docker: true, policy: { allowNetwork: false, allowImages: ['lab/*'] } };
  const got = [jobs.claim(strict), jobs.claim(strict), jobs.claim(strict)].map((c) => c?.spec.command);
  t.same(got, ['lab', 'plain', undefined], 'only what the policy allows');
  const open = { ...plain, worker: 'w2', docker: true };
  t.same([jobs.claim(open)?.spec.command, jobs.claim(open)?.spec.command], ['net', 'other'], 'a worker without a policy takes the rest');
});
