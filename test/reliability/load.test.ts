// Load: 200 simulated workers on loopback and 20,000 jobs. Every job finishes, none is lost,
// none runs twice. Prints throughput and the master's peak RSS (figures, not limits, except
// that all of it must happen within the test's time).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Connection } from '../../src/client/connection.js';
import { Cluster, waitFor } from '../helpers/q.js';
import { SimWorker, tokenOf } from './sim.js';
import { makeJobSpec, type JobSpec } from '../../src/protocol/jobSpec.js';

const WORKERS = 200;
const JOBS = 20_000;

function spec(i: number): JobSpec {
  return makeJobSpec({ command: `job ${i}`, workingPath: '/load', time: 3600, mem: 10, disk: 100 });
}

t.test(`${WORKERS} workers, ${JOBS} jobs: all done, none lost, none twice`, async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster();
  const token = tokenOf(c.state);
  const workers = Array.from({ length: WORKERS }, (_, i) => new SimWorker(`sim-${i}`, 2));
  t.teardown(() => workers.forEach((w) => w.close()));
  await Promise.all(workers.map((w) => w.connect(c.port, token)));
  const conn = await Connection.open({ host: '127.0.0.1', port: c.port, token, timeoutMs: 10_000 });
  t.teardown(() => conn.close());
  const t0 = Date.now();
  const handles: string[] = [];
  for (let i = 0; i < JOBS; i += 5000) {
    const batch = Array.from({ length: Math.min(5000, JOBS - i) }, (_, k) => spec(i + k));
    handles.push(...(await conn.request({ type: 'add', jobs: batch }, 'added')).handles);
  }
  t.equal(new Set(handles).size, JOBS, 'every job acknowledged with its own handle');
  // What is left shrinks to nothing; asking for it costs the master little.
  const left = ['status:ready', 'status:assigned', 'status:init', 'status:running'];
  await waitFor('no job left to run', async () => (await conn.request({ type: 'list', specs: left }, 'jobs')).jobs.length === 0, 90_000, 3000);
  const secs = (Date.now() - t0) / 1000;
  const { jobs: done } = await conn.request({ type: 'list', specs: ['status:done'] }, 'jobs');
  t.equal(done.length, JOBS, 'every job done');
  const ran = new Map<string, number>();
  for (const w of workers) for (const [h, n] of w.ran) ran.set(h, (ran.get(h) ?? 0) + n);
  t.equal(ran.size, JOBS, 'every job ran');
  t.equal([...ran.values()].filter((n) => n !== 1).length, 0, 'no job ran twice');
  t.ok([...workers].filter((w) => w.ran.size > 0).length > WORKERS / 2, 'the work was spread over the workers');
  const peak = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${master.pid}/status`, 'utf8'))![1]) / 1024;
  t.comment(`load: ${JOBS} jobs through ${WORKERS} workers in ${secs.toFixed(1)} s = ${(JOBS / secs).toFixed(0)} jobs/s; master peak RSS ${peak.toFixed(0)} MB`);
  t.ok(peak < 512, `master peak RSS ${peak.toFixed(0)} MB`);
});
