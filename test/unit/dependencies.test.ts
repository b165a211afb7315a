// Jobs that wait for jobs, in the store: settled in one pass when what they wait for ends,
// counted in jobs released and failed, never in seconds.
import t from 'tap';
import { openDb } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';

const spec = () => makeJobSpec({ command: 'true', workingPath: '/tmp' });
const worker = { worker: 'w', host: 'h', memBudget: 1e6, maxTime: null, docker: false, bare: true, cpuBudget: 64, gpuBudget: 0, queues: [] };

function run(jobs: JobStore, exitCode: number) {
  const c = jobs.claim(worker)!;
  const out = jobs.finish(c.handle, c.lease, { exitCode, exitReason: null, realTime: 1, userTime: 0, maxMem: 1, maxDisk: 0 }, 10);
  return { handle: c.handle, settled: jobs.deps.ended(c.handle, exitCode === 0, 10), job: out.job! };
}

t.test('a fan-in of 10,000 jobs into one: the last to end releases it, and no pick sees it before', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const sweep = jobs.insert(Array.from({ length: 10_000 }, spec), 0);
  const [evalJob] = jobs.insert([spec()], 0, { after: sweep });
  t.equal(jobs.get(evalJob!)!.status, 'held');
  t.equal(jobs.get(evalJob!)!.exitReason, `after ${sweep.slice(0, 5).join(' ')} and 9995 more`);
  let released = 0;
  let early = false;
  for (let i = 0; i < 10_000; i++) {
    const r = run(jobs, 0);
    early ||= r.handle === evalJob;
    released += r.settled.released;
    if (i === 9_998) t.equal(jobs.get(evalJob!)!.status, 'held', 'one left: still held');
  }
  t.notOk(early, 'never claimed while it waits');
  t.equal(released, 1, 'released once, by the last');
  t.equal(jobs.claim(worker)?.handle, evalJob, 'then it is the next pick');
});

t.test('a failure fails a chain of 100 in one pass; -afterAny jobs run; a rerun puts the chain back', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const [first] = jobs.insert([spec()], 0);
  const chain: string[] = [];
  let prev = first!;
  for (let i = 0; i < 100; i++) chain.push((prev = jobs.insert([spec()], 0, { after: [prev] })[0]!));
  const [any] = jobs.insert([spec()], 0, { afterAny: [first!] });
  const r = run(jobs, 3);
  t.equal(r.handle, first);
  t.equal(r.settled.failed.length, 100, 'the whole chain, in this one call');
  t.same(r.settled.failed.map((j) => j.exitReason).slice(0, 2), [`Dependency ${first} failed`, `Dependency ${chain[0]} failed`]);
  t.equal(r.settled.released, 1, '-afterAny: released by a failure');
  t.equal(jobs.claim(worker)?.handle, any);
  jobs.rerun([first!]);
  jobs.deps.rerun(first!);
  t.same([jobs.get(chain[0]!)!.status, jobs.get(chain[99]!)!.status], ['held', 'held'], 'waiting again, down the chain');
  t.equal(jobs.get(chain[0]!)!.exitReason, `after ${first}`);
  const again = run(jobs, 0);
  t.equal(again.handle, first);
  t.equal(again.settled.released, 1, 'done this time: the next link runs');
});

t.test('-after a job already failed or gone fails at once; -hold and -release', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const [f] = jobs.insert([spec()], 0);
  run(jobs, 1);
  const [late] = jobs.insert([spec()], 0, { after: [f!] });
  t.match(jobs.get(late!), { status: 'failed', exitCode: 125, exitReason: `Dependency ${f} failed` });
  const [gone] = jobs.insert([spec()], 0, { after: ['J-zzzzzz'] });
  t.equal(jobs.get(gone!)!.status, 'failed', 'a job that no longer exists: as if it had failed');
  const [h] = jobs.insert([spec()], 0, { hold: true });
  t.equal(jobs.claim(worker), undefined, 'held: not picked');
  t.ok(jobs.deps.release(h!));
  t.notOk(jobs.deps.release(h!), 'released once');
  t.ok(jobs.deps.hold(h!));
  t.equal(jobs.claim(worker), undefined);
  t.ok(jobs.deps.release(h!));
  t.equal(jobs.claim(worker)?.handle, h);
});

t.test('a job named by both -after and -afterAny is waited for once, as -after', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const [a] = jobs.insert([spec()], 0);
  const [w] = jobs.insert([spec()], 0, { after: [a!], afterAny: [a!] });
  t.equal(jobs.get(w!)!.status, 'held');
  const r = run(jobs, 0);
  t.equal(r.handle, a);
  t.equal(jobs.get(w!)!.status, 'ready', 'released when it ends done (before: it waited for good)');
});
