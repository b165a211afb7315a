// The scheduler hands work only to a worker whose socket is open: a job claimed for one that
// is closing would wait for its hello or the heartbeat timeout, and cost an attempt.
import t from 'tap';
import { openDb } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { WorkerStore } from '../../src/store/workers.js';
import { WorkerRegistry, type WorkerSession } from '../../src/master/registry.js';
import { Scheduler } from '../../src/master/scheduler.js';
import { JobSpecSchema } from '../../src/protocol/jobSpec.js';

const OPEN = 1;
const CLOSING = 2;

function setUp(readyState: number) {
  const db = openDb(':memory:');
  const jobs = new JobStore(db);
  const workers = new WorkerRegistry(new WorkerStore(db));
  const sent: unknown[] = [];
  const socket = { OPEN, readyState, send: (m: unknown) => sent.push(m) };
  const session = {
    handle: 'w1', socket, slots: 2, maxTime: null, lastSeen: 0, pump: {}, inputs: new Map(), jobs: new Map(),
    resources: { hostname: 'h', cpus: 4, cpuSpeed: 1000, freeMem: 100_000, freeDisk: 100_000, busyProcesses: [], docker: null, bare: true, gpus: 0, queues: [] },
  } as unknown as WorkerSession;
  workers.add(session);
  const spec = JobSpecSchema.parse({
    command: 'true', priority: 5, time: 60, mem: 10, memGrace: 1, disk: 10, tags: [], workerHandle: null, workingPath: '/tmp',
    shareWorkingPath: false, inPaths: [], realtimeInPaths: [], outPath: null, outFiles: [], doneHook: null, failedHook: null,
  });
  const [handle] = jobs.insert([spec], 0);
  return { jobs, session, sent, socket, handle: handle!, scheduler: new Scheduler(jobs, workers) };
}

t.test('a worker whose socket is closing is given nothing', async (t) => {
  const { jobs, session, sent, handle, scheduler } = setUp(CLOSING);
  scheduler.pass();
  t.same(sent, [], 'no assignment sent');
  t.equal(session.jobs.size, 0);
  const job = jobs.get(handle)!;
  t.equal(job.status, 'ready');
  t.equal(job.attempt, 0, 'no attempt spent');
});

t.test('a socket that refuses the send gives the job straight back, no attempt spent', async (t) => {
  const { jobs, session, handle, scheduler, socket } = setUp(OPEN);
  // Open when the pass looked, closed by the time it sends.
  let looks = 0;
  Object.defineProperty(socket, 'readyState', { get: () => (looks++ === 0 ? OPEN : CLOSING) });
  scheduler.pass();
  t.equal(session.jobs.size, 0, 'the worker holds nothing');
  const job = jobs.get(handle)!;
  t.equal(job.status, 'ready');
  t.equal(job.attempt, 0);
});

t.test('an open socket gets the job', async (t) => {
  const { jobs, sent, handle, scheduler } = setUp(OPEN);
  scheduler.pass();
  t.equal(sent.length, 1);
  t.equal(jobs.get(handle)!.status, 'assigned');
});

t.test("a heartbeat offers only its own worker: the others' claims are not tried", async (t) => {
  const { jobs, session, sent, handle, scheduler } = setUp(OPEN);
  // A full pass would try every worker; an offer tries the one that heartbeated.
  const calls: string[] = [];
  const claim = jobs.claim.bind(jobs);
  jobs.claim = (limits) => {
    calls.push(limits.worker);
    return claim(limits);
  };
  const other = { ...session, handle: 'w2', jobs: new Map() };
  (scheduler as unknown as { workers: WorkerRegistry }).workers.add(other);
  scheduler.offer(session);
  await new Promise((r) => setImmediate(r));
  t.same(calls.filter((w) => w === 'w2'), [], 'w2 was not asked');
  t.ok(calls.includes('w1'));
  t.equal(sent.length, 1);
  t.equal(jobs.get(handle)!.status, 'assigned');
  calls.length = 0;
  scheduler.kick();
  await new Promise((r) => setImmediate(r));
  t.ok(calls.includes('w2'), 'a kick is a full pass');
});
