// /metrics's names and values: what a Prometheus user queries (q_jobs{status,queue},
// q_workers, q_worker_slots, the counters and histograms), read from a fake master.
import t from 'tap';
import { MasterMetrics, finishResult } from '../../src/master/http/metrics.js';
import type { JobCount } from '../../src/protocol/clientMessages.js';
import { openDb } from '../../src/store/db.js';
import { WorkerStore } from '../../src/store/workers.js';
import { WorkerRegistry, type WorkerSession } from '../../src/master/registry.js';
import { Reasons } from '../../src/common/outcomes.js';
import type { JobView } from '../../src/protocol/jobState.js';

/** A registry as a master has it: w1 and w4 connected, w2 known only from the table, w3 a session whose socket closed. */
function registry(): WorkerRegistry {
  const store = new WorkerStore(openDb(':memory:'));
  store.save({ handle: 'w2', info: JSON.stringify({ slots: 1, maxTime: null, resources: {} }), lastSeen: 0 });
  const workers = new WorkerRegistry(store);
  const session = (handle: string, socket: unknown, slots: number, jobs: string[]) =>
    ({ handle, socket, slots, maxTime: null, lastSeen: 0, pump: {}, inputs: new Map(), jobs: new Map(jobs.map((h) => [h, { lease: 'L', mem: 1, cpus: 1, gpus: 0 }])), resources: {} }) as unknown as WorkerSession;
  workers.add(session('w1', { OPEN: 1, readyState: 1 }, 4, ['J-aaaaaa']));
  workers.add(session('w3', null, 2, []));
  workers.add(session('w4', { OPEN: 1, readyState: 1 }, 1, ['J-bbbbbb', 'J-cccccc'])); // one job more than its slots, being taken back
  return workers;
}

t.test('how a job ended, as result says it', async (t) => {
  const f = (status: 'done' | 'failed', exitReason: string | null) => finishResult({ status, exitReason });
  t.equal(f('done', null), 'done');
  t.equal(f('failed', null), 'failed');
  t.equal(f('failed', Reasons.killedByRequest), 'killed');
  t.equal(f('failed', Reasons.killedBeforeStart), 'killed');
  t.equal(f('failed', Reasons.timeLimit(12, 10)), 'limit');
  t.equal(f('failed', Reasons.memLimit(200, 100, 1)), 'limit');
  t.equal(f('failed', `${Reasons.workerLost}w1 stopped answering`), 'lost');
});

t.test('the text a scrape reads', async (t) => {
  let counts: JobCount[] = [
    { status: 'ready', queue: '', n: 3 },
    { status: 'running', queue: 'gpu', n: 2 },
  ];
  const workers = registry();
  const m = new MasterMetrics({ counts: () => counts, workers: () => workers.census() });
  m.submitted(5);
  const job = (over: Partial<JobView>) => ({ status: 'done', exitReason: null, createdAt: 1000, startedAt: 3000, realTime: 7, ...over }) as JobView;
  m.ended(job({}));
  m.ended(job({ status: 'failed', exitReason: Reasons.killedByRequest, startedAt: null }));
  const text = await m.text();
  t.match(text, /^# TYPE q_jobs gauge$/m);
  t.match(text, /^q_jobs\{status="ready",queue=""\} 3$/m);
  t.match(text, /^q_jobs\{status="running",queue="gpu"\} 2$/m);
  t.match(text, /^q_jobs\{status="failed",queue=""\} 0$/m, 'every status, 0 when none');
  t.match(text, /^q_workers\{state="connected"\} 2$/m);
  t.match(text, /^q_workers\{state="away"\} 2$/m, 'one known from the table, one whose socket closed');
  t.match(text, /^q_worker_slots\{worker="w1",state="busy"\} 1$/m);
  t.match(text, /^q_worker_slots\{worker="w1",state="free"\} 3$/m);
  t.notMatch(text, /worker="w[23]"/, 'slots of connected workers only');
  t.match(text, /^q_worker_slots\{worker="w4",state="busy"\} 1$/m, 'busy: never more than its slots');
  t.match(text, /^q_worker_slots\{worker="w4",state="free"\} 0$/m);
  t.match(text, /^q_jobs_submitted_total 5$/m);
  t.match(text, /^q_jobs_finished_total\{result="done"\} 1$/m);
  t.match(text, /^q_jobs_finished_total\{result="killed"\} 1$/m);
  t.match(text, /^q_jobs_finished_total\{result="lost"\} 0$/m);
  t.match(text, /^q_job_wait_seconds_sum 2$/m, 'seconds from added to started');
  t.match(text, /^q_job_wait_seconds_count 1$/m, 'a job that never started waited no measured time');
  t.match(text, /^q_job_run_seconds_sum 7$/m);
  t.match(text, /^q_build_info\{version="[^"]+",node="v\d+/m);
  t.match(text, /^q_master_process_cpu_seconds_total /m, "the master process's own");
  t.notMatch(text, /J-aaaaaa/, 'no label per job');
  for (const name of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    t.match(name[1], /^q_/, `${name[1]}: one q_ prefix`);
    if (name[2] === 'counter') t.match(name[1], /_total$/, `${name[1]}: a counter ends in _total`);
  }
  counts = [];
  t.match(await m.text(), /^q_jobs\{status="ready",queue=""\} 0$/m, 'read at each scrape');
  t.notMatch(await m.text(), /queue="gpu"/, 'a queue gone is gone');
});
