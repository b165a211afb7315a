import t from 'tap';
import { openDb, type Db } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { fixedClock } from '../../src/common/clock.js';
import { makeJobSpec, type JobSpec } from '../../src/protocol/jobSpec.js';

function spec(over: Partial<JobSpec> = {}): JobSpec {
  return makeJobSpec({ command: 'true', workingPath: '/tmp', time: 3600, mem: 100, disk: 1000, ...over });
}

function fresh() {
  const jobs = new JobStore(openDb(':memory:'));
  return { jobs, clock: fixedClock(1_000_000) };
}

const claimFor = (jobs: JobStore, worker = 'w', memBudget = 10_000, maxTime: number | null = null) =>
  jobs.claim({ worker, host: 'h', memBudget, maxTime, docker: false, bare: true, cpuBudget: 64, gpuBudget: 0, queues: [] });

t.test('claim order: lowest priority number, then oldest', async (t) => {
  const { jobs, clock } = fresh();
  const [a] = jobs.insert([spec({ priority: 5 })], clock.now());
  const [b, c] = jobs.insert([spec({ priority: 1 }), spec({ priority: 1 })], clock.now());
  const [d] = jobs.insert([spec({ priority: -3 })], clock.now());
  t.same([1, 2, 3, 4].map(() => claimFor(jobs)?.handle), [d, b, c, a]);
  t.equal(claimFor(jobs), undefined);
});

t.test('claim respects memory, maxTime and worker pinning', async (t) => {
  const { jobs, clock } = fresh();
  const [big] = jobs.insert([spec({ mem: 5000 })], clock.now());
  const [long] = jobs.insert([spec({ time: 7200 })], clock.now());
  const [pinned] = jobs.insert([spec({ workerHandle: 'special' })], clock.now());
  t.equal(claimFor(jobs, 'w', 1000, 3600), undefined, 'nothing fits a small, short worker');
  t.equal(claimFor(jobs, 'w', 6000, 3600)?.handle, big);
  t.equal(claimFor(jobs, 'w', 6000, 7200)?.handle, long);
  t.equal(claimFor(jobs, 'w'), undefined, 'a pinned job waits for its worker');
  t.equal(claimFor(jobs, 'special')?.handle, pinned);
});

t.test('Docker jobs go only to workers with an engine; bare jobs only to workers that take them', async (t) => {
  const { jobs, clock } = fresh();
  const [boxed] = jobs.insert([spec({ dockerImage: 'img' })], clock.now());
  const [plain] = jobs.insert([spec()], clock.now());
  const claim = (docker: boolean, bare: boolean) =>
    jobs.claim({ worker: 'w', host: 'h', memBudget: 1e4, maxTime: null, docker, bare, cpuBudget: 64, gpuBudget: 0, queues: [] });
  t.equal(claim(true, false)?.handle, boxed, 'a -requireDocker worker takes the Docker job');
  t.equal(claim(true, false), undefined, '...and not the bare one');
  t.equal(claim(false, true)?.handle, plain, 'a worker without an engine takes the bare one');
  t.equal(jobs.get(boxed!)?.dockerImage, 'img');
  const [next] = jobs.insert([spec({ dockerImage: 'img' })], clock.now());
  t.equal(claim(false, true), undefined, 'a Docker job never goes to a worker without an engine');
  t.equal(claim(true, true)?.handle, next);
});

t.test('CPUs, GPUs and queues: a job goes only where they fit', async (t) => {
  const { jobs, clock } = fresh();
  const [gpu] = jobs.insert([spec({ gpus: 2 })], clock.now());
  const [wide] = jobs.insert([spec({ cpus: 8 })], clock.now());
  const [queued] = jobs.insert([spec({ queue: 'big' })], clock.now());
  const claim = (cpuBudget: number, gpuBudget: number, queues: string[]) =>
    jobs.claim({ worker: 'w', host: 'h', memBudget: 1e4, maxTime: null, docker: false, bare: true, cpuBudget, gpuBudget, queues })?.handle;
  t.equal(claim(4, 1, ['small']), undefined, 'nothing fits 4 CPUs, 1 GPU, queue small');
  t.equal(claim(4, 2, []), gpu);
  t.equal(claim(8, 0, []), wide);
  t.equal(claim(64, 8, ['small', 'big']), queued);
});

t.test('losing its worker counts against -retries; giving a job back does not', async (t) => {
  const { jobs, clock } = fresh();
  const [h] = jobs.insert([spec({ retries: 1 })], clock.now());
  let c = claimFor(jobs)!;
  t.ok(jobs.requeue(h!, c.lease, clock.now()).requeued, 'given back: no retry used');
  c = claimFor(jobs)!;
  t.ok(jobs.requeue(h!, c.lease, clock.now(), { why: 'gone' }).requeued, 'lost once: the one retry');
  c = claimFor(jobs)!;
  const out = jobs.requeue(h!, c.lease, clock.now(), { why: 'gone' });
  t.notOk(out.requeued);
  t.equal(out.failed?.status, 'failed');
  t.equal(out.failed?.exitCode, 125);
  t.equal(out.failed?.exitReason, 'Worker lost: gone (2 times; -retries 1)');
});

t.test('a claim records worker, lease and attempt; only that lease finishes the job, once', async (t) => {
  const { jobs, clock } = fresh();
  const [h] = jobs.insert([spec()], clock.now());
  const claim = claimFor(jobs)!;
  t.equal(claim.handle, h);
  t.equal(claim.attempt, 1);
  const view = jobs.get(h!)!;
  t.equal(view.status, 'assigned');
  t.equal(view.worker, 'w');
  t.notOk(jobs.markRunning(h!, 'stale', clock.now()), 'a wrong lease changes nothing');
  t.ok(jobs.markRunning(h!, claim.lease, clock.now()));
  const result = { exitCode: 0, exitReason: null, realTime: 1, userTime: 0.5, maxMem: 10, maxDisk: -1 };
  t.notOk(jobs.finish(h!, 'stale', result, clock.now()).applied);
  clock.advance(5000);
  const first = jobs.finish(h!, claim.lease, result, clock.now());
  t.ok(first.applied);
  t.equal(first.job?.status, 'done');
  t.equal(first.job?.finishedAt, 1_005_000);
  t.notOk(jobs.finish(h!, claim.lease, { ...result, exitCode: 1 }, clock.now()).applied, 'a repeated result is a no-op');
  t.equal(jobs.get(h!)!.exitCode, 0);
});

t.test('requeue takes a job from a worker; its old lease is dead after that', async (t) => {
  const { jobs, clock } = fresh();
  const [h] = jobs.insert([spec()], clock.now());
  const first = claimFor(jobs, 'w1')!;
  t.ok(jobs.requeue(h!, first.lease, clock.now()));
  t.equal(jobs.get(h!)!.status, 'ready');
  const second = claimFor(jobs, 'w2')!;
  t.equal(second.attempt, 2);
  const r = { exitCode: 0, exitReason: null, realTime: 1, userTime: 0, maxMem: 1, maxDisk: -1 };
  t.notOk(jobs.finish(h!, first.lease, r, clock.now()).applied, 'the stale worker cannot finish it');
  t.ok(jobs.finish(h!, second.lease, r, clock.now()).applied);
});

t.test('rerun and failed results', async (t) => {
  const { jobs, clock } = fresh();
  const [h] = jobs.insert([spec()], clock.now());
  const c = claimFor(jobs)!;
  const out = jobs.finish(h!, c.lease, { exitCode: 0, exitReason: 'Memory limit exceeded', realTime: 1, userTime: 0, maxMem: 1, maxDisk: -1 }, clock.now());
  t.equal(out.job?.status, 'failed', 'a job killed for a limit failed even with exit 0');
  t.same(jobs.rerun([h!]), [h]);
  const v = jobs.get(h!)!;
  t.equal(v.status, 'ready');
  t.equal(v.exitCode, null);
  t.same(jobs.rerun([h!]), [], 'a ready job is not rerun');
});

t.test('a thousand adds are one transaction with unique handles', async (t) => {
  const { jobs, clock } = fresh();
  const handles = jobs.insert(Array.from({ length: 1000 }, () => spec()), clock.now());
  t.equal(new Set(handles).size, 1000);
  for (const h of handles) t.match(h, /^J-[0-9a-z]{6}$/);
  t.equal(jobs.count(), 1000);
});

t.test('an assignment its worker never had does not count as an attempt', async (t) => {
  const { jobs, clock } = fresh();
  const [h] = jobs.insert([spec()], clock.now());
  const first = claimFor(jobs)!;
  t.equal(first.attempt, 1);
  t.ok(jobs.requeue(h!, first.lease, clock.now(), null, true).requeued);
  const second = claimFor(jobs)!;
  t.equal(second.attempt, 1, 'the lost assignment did not count');
  t.ok(jobs.markRunning(h!, second.lease, clock.now()));
  t.ok(jobs.requeue(h!, second.lease, clock.now(), null, true).requeued, 'one that had started ...');
  t.equal(claimFor(jobs)!.attempt, 2, '... did count');
});

t.test('job_counts follows every change of status and queue, and matches a count of the table', async (t) => {
  const { jobs, clock } = fresh();
  const db = (jobs as unknown as { db: Db }).db;
  const truth = () =>
    db.prepare(`SELECT status, coalesce(queue, '') AS queue, count(*) AS n FROM jobs GROUP BY 1, 2 ORDER BY 1, 2`).all();
  const [a, b] = jobs.insert([spec(), spec()], clock.now());
  jobs.insert([spec({ queue: 'gpu' })], clock.now());
  t.same(jobs.counts(), truth());
  t.same(jobs.counts(), [{ status: 'ready', queue: '', n: 2 }, { status: 'ready', queue: 'gpu', n: 1 }]);
  const claimed = claimFor(jobs)!;
  jobs.markRunning(claimed.handle, claimed.lease, clock.now());
  t.same(jobs.counts(), truth(), 'claimed and running');
  jobs.finish(claimed.handle, claimed.lease, { exitCode: 0, exitReason: null, realTime: 1, userTime: 0, maxMem: 1, maxDisk: 0 }, clock.now());
  t.same(jobs.counts(), truth(), 'finished');
  jobs.delete([b === claimed.handle ? a! : b!]);
  t.same(jobs.counts(), truth(), 'deleted');
  t.equal(jobs.count(), 2);
  t.same(jobs.counts().map((c) => c.n).reduce((x, y) => x + y), 2);
});

t.test('an add of many batches: nothing of it runs, even released, until it is committed; undone, nothing is left', async (t) => {
  const { jobs, clock } = fresh();
  const [a, b] = jobs.insert([spec(), spec()], clock.now(), {}, { id: 'add-one-xx', staged: true });
  const [held] = jobs.insert([spec()], clock.now(), { hold: true }, { id: 'add-one-xx', staged: true });
  t.equal(jobs.adds.state('add-one-xx')?.jobs, 3);
  t.equal(claimFor(jobs), undefined, 'a staged job is not claimed');
  t.equal(jobs.get(a!)?.exitReason, 'being added: runs once its whole add has arrived');
  jobs.deps.release(a!);
  t.equal(claimFor(jobs), undefined, '-release does not let it go');
  t.ok(jobs.adds.commit('add-one-xx'));
  t.equal(jobs.adds.letGoSlice('add-one-xx', 1), 1, 'a slice at a time');
  t.equal(jobs.adds.letGoSlice('add-one-xx'), 2);
  t.equal(jobs.adds.letGoSlice('add-one-xx'), 0);
  t.same([claimFor(jobs)?.handle, claimFor(jobs)?.handle, claimFor(jobs)], [a, b, undefined], 'committed, they run; the one added held stays held');
  t.equal(jobs.get(held!)?.status, 'held');

  jobs.insert([spec(), spec()], clock.now(), {}, { id: 'add-two-xx', staged: true });
  t.equal(jobs.count(), 5);
  while (jobs.adds.dropSlice('add-two-xx', 1) > 0);
  t.equal(jobs.count(), 3, 'undone: its jobs are gone');
  t.equal(jobs.adds.state('add-two-xx'), null, 'and the add forgotten');
  t.throws(() => jobs.insert([spec()], clock.now(), {}, { id: 'add-one-xx', staged: true }), /no longer open/, 'a committed add takes no more batches');
});

t.test('at open, an add cut short before its commit is undone; one cut short after it is finished', async (t) => {
  const db = openDb(':memory:');
  const jobs = new JobStore(db);
  jobs.insert([spec(), spec()], 1, {}, { id: 'add-cut-before', staged: true });
  const [x] = jobs.insert([spec()], 1, {}, { id: 'add-cut-after', staged: true });
  jobs.adds.commit('add-cut-after');
  const again = new JobStore(db);
  t.same(again.adds.recover(2), { letGo: 1, dropped: 2 });
  t.equal(again.count(), 1);
  t.equal(claimFor(again)?.handle, x);
  t.equal(again.adds.state('add-cut-after')?.state, 'committed', 'remembered for a client that asks');
});

t.test('adds are remembered a day, then forgotten as others come', async (t) => {
  const { jobs } = fresh();
  jobs.insert([spec()], 0, {}, { id: 'add-old-xxx', staged: false });
  t.equal(jobs.adds.state('add-old-xxx')?.state, 'committed');
  const day = 24 * 3600 * 1000;
  for (let i = 0; i < 1024; i++) jobs.insert([spec()], day + 1, {}, { id: `add-new-${i}`, staged: false });
  t.equal(jobs.adds.state('add-old-xxx'), null, 'a day old: forgotten');
  t.equal(jobs.adds.state('add-new-5')?.jobs, 1);
});

t.test('a staged job can be neither waited for nor rerun; an abandoned add takes no more batches', async (t) => {
  const { jobs, clock } = fresh();
  const [staged] = jobs.insert([spec()], clock.now(), {}, { id: 'add-three-x', staged: true });
  t.throws(() => jobs.insert([spec()], clock.now(), { after: [staged!] }), /part of an add still arriving/, '-after it is refused: it may yet be deleted');
  jobs.failReady(staged!, 143, 'Killed before it started', clock.now());
  t.equal(jobs.get(staged!)?.status, 'failed');
  t.same(jobs.rerun([staged!]), [], 'a staged job that failed is not rerun');
  t.equal(claimFor(jobs), undefined);
  t.ok(jobs.adds.abandon('add-three-x'));
  t.throws(() => jobs.insert([spec()], clock.now(), {}, { id: 'add-three-x', staged: true }), /no longer open/);
  t.notOk(jobs.adds.commit('add-three-x'), 'nor a commit');
});
