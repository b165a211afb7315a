// -retry: a failed command waits, held, for its retry, with the delay doubling; the store's
// clock is passed in, so the delays are read from the store, not slept through.
import t from 'tap';
import { openDb } from '../../src/store/db.js';
import { JobStore, retryDelayS } from '../../src/store/jobs.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';

const worker = { worker: 'w', host: 'h', memBudget: 1e6, maxTime: null, docker: false, bare: true, cpuBudget: 64, gpuBudget: 0, queues: [] };
const result = (exitCode: number, exitReason: string | null = null) => ({ exitCode, exitReason, realTime: 1, userTime: 0, maxMem: 1, maxDisk: 0 });
const half = () => 0.5; // no spread: the delays exactly

t.test('fails twice, then succeeds: done, with both retries and their exit codes on record', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const [h] = jobs.insert([makeJobSpec({ command: './flaky.sh', workingPath: '/tmp', retry: 3, retryDelay: 30 })], 0);
  let c = jobs.claim(worker)!;
  t.same(jobs.finish(h!, c.lease, result(2), 1_000, half), { applied: true, retrying: true });
  let job = jobs.get(h!)!;
  t.match(job, { status: 'held', retried: 1, retryCodes: [2], retryAt: 31_000, exitReason: 'exit code 2: retry 1/3 in 30s' });
  t.equal(jobs.claim(worker), undefined, 'not before it is due');
  t.equal(jobs.retriesDue(30_999, 10), 0);
  t.equal(jobs.retriesDue(31_000, 10), 1);
  c = jobs.claim(worker)!;
  t.equal(c.handle, h);
  jobs.finish(h!, c.lease, result(5), 40_000, half);
  job = jobs.get(h!)!;
  t.equal(job.retryAt! - 40_000, 60_000, 'the second waits twice as long');
  jobs.retriesDue(100_000, 10);
  c = jobs.claim(worker)!;
  const end = jobs.finish(h!, c.lease, result(0), 101_000, half);
  t.match(end.job, { status: 'done', retried: 2, retryCodes: [2, 5], retryAt: null, attempt: 3 });
});

t.test('what is not retried: a kill or a limit, no -retry, retries used up', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const [killed, plain, once] = jobs.insert(
    [
      makeJobSpec({ command: 'a', workingPath: '/tmp', retry: 3 }),
      makeJobSpec({ command: 'b', workingPath: '/tmp' }),
      makeJobSpec({ command: 'c', workingPath: '/tmp', retry: 1, retryDelay: 1 }),
    ],
    0,
  );
  const lease = (h: string) => {
    const c = jobs.claim({ ...worker, worker: h })!;
    t.equal(c.handle, h);
    return c.lease;
  };
  t.equal(jobs.finish(killed!, lease(killed!), result(137, 'Killed by server request'), 0).job?.status, 'failed');
  t.equal(jobs.finish(plain!, lease(plain!), result(1), 0).job?.status, 'failed');
  t.ok(jobs.finish(once!, lease(once!), result(1), 0, half).retrying);
  jobs.retriesDue(10_000, 10);
  t.equal(jobs.finish(once!, lease(once!), result(1), 20_000).job?.status, 'failed', 'its one retry used');
});

t.test('the delay doubles up to an hour, spread by 20% either way', async (t) => {
  t.equal(retryDelayS(10, 0, 0.5), 10);
  t.equal(retryDelayS(10, 3, 0.5), 80);
  t.equal(retryDelayS(10, 20, 0.5), 3600);
  t.equal(retryDelayS(10, 0, 0), 8);
  t.ok(retryDelayS(10, 0, 0.9999) < 12);
});

t.test('-hold then -release of a job waiting for its retry: it still waits for the retry', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const [h] = jobs.insert([makeJobSpec({ command: './flaky.sh', workingPath: '/tmp', retry: 1, retryDelay: 30 })], 0);
  const c = jobs.claim(worker)!;
  jobs.finish(h!, c.lease, result(2), 1_000, half);
  t.ok(jobs.deps.hold(h!));
  t.ok(jobs.deps.release(h!));
  t.match(jobs.get(h!), { status: 'held', exitReason: 'waiting for its retry (-retry)', retryAt: 31_000 });
  t.equal(jobs.claim(worker), undefined, 'not claimed before its retry is due');
  t.equal(jobs.retriesDue(31_000, 10), 1);
  t.equal(jobs.claim(worker)?.handle, h, 'then it runs');
});
