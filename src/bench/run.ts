// `npm run bench`: q's hot path measured end to end on this machine, with real master and
// worker processes on loopback. Prints figures; asserts nothing (benchmarks are not tests).
//   throughput   N trivial jobs (`true`) through one worker with -slots 4: jobs/s
//   latency      one job at a time into an idle worker: submit → started, p50/p99 (ms)
//   bulk add     `q -add -` of 10,000 commands, whole client process: seconds
//   docker       one trivial Docker job at a time through q, against `docker run --rm` of the
//                same command, alternating: median seconds per job (needs an engine and the
//                image of scripts/test-images.sh; skipped with a message otherwise)
// `npm run bench -- scale` runs scale.ts instead: a million jobs, a thousand workers;
// `npm run bench -- workflow` runs workflow.ts: chains and fan-ins of jobs that wait;
// `npm run bench -- add` runs add.ts: one add of a million lines.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '../client/connection.js';
import { makeJobSpec, type JobSpec } from '../protocol/jobSpec.js';
import type { JobView } from '../protocol/jobState.js';
import { numArg, sleep } from './helpers.js';

const BIN_Q = fileURLToPath(new URL('../../bin/q', import.meta.url));
const N = numArg('jobs', 3000);
const LATENCY_N = numArg('latency', 300);
const BULK_N = numArg('bulk', 10_000);
const SLOTS = numArg('slots', 4);
const DOCKER_N = numArg('docker', 15);
const DOCKER_IMAGE = process.env.Q_TEST_IMAGE ?? 'q-test-busybox';

function q(dir: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [BIN_Q, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
}

function waitLine(p: ChildProcess, re: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re}: ${out}`)), 15_000);
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

function spec(command: string): JobSpec {
  return makeJobSpec({ command, workingPath: '/bench', time: 3600, mem: 64, disk: 1024 });
}


function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Waits until these jobs have finished, asking about one at a time (cheap for the master). */
async function untilFinished(conn: Connection, handles: string[], deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  let i = handles.length - 1;
  while (i >= 0 && Date.now() < end) {
    const { jobs } = await conn.request({ type: 'list', specs: [handles[i]!] }, 'jobs');
    if (jobs[0]?.status === 'done' || jobs[0]?.status === 'failed') i--;
    else await sleep(50);
  }
  if (i >= 0) throw new Error('jobs did not finish in time');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Per-job cost of a trivial Docker job through q vs a bare `docker run --rm`, side by side. */
async function dockerOverhead(conn: Connection): Promise<void> {
  if (DOCKER_N <= 0) return;
  const probe = spawnSync('docker', ['image', 'inspect', DOCKER_IMAGE], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(`docker: skipped (no engine or no ${DOCKER_IMAGE} image; bash scripts/test-images.sh makes both)`);
    return;
  }
  const viaQ: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < DOCKER_N; i++) {
    const b0 = performance.now();
    spawnSync('docker', ['run', '--rm', '--network', 'none', DOCKER_IMAGE, 'true']);
    bare.push((performance.now() - b0) / 1000);
    const q0 = Date.now();
    const { handles } = await conn.request({ type: 'add', jobs: [{ ...spec('true'), dockerImage: DOCKER_IMAGE }] }, 'added');
    let job: JobView | undefined;
    for (let k = 0; k < 6000; k++) {
      job = (await conn.request({ type: 'list', specs: [handles[0]!] }, 'jobs')).jobs[0];
      if (job?.finishedAt) break;
      await sleep(5);
    }
    if (job?.status !== 'done') throw new Error(`docker job ${handles[0]} ended ${job?.status}: ${job?.exitReason}`);
    viaQ.push((job.finishedAt! - q0) / 1000);
  }
  const mq = median(viaQ);
  const mb = median(bare);
  console.log(
    `docker: ${mq.toFixed(3)} s per job through q (submit → result), ${mb.toFixed(3)} s per docker run --rm ` +
      `(medians of ${DOCKER_N}, alternating): ${(mq / mb).toFixed(2)}×`,
  );
  await conn.request({ type: 'delete', specs: ['all'] }, 'affected');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'q-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env, Q_STATE: join(dir, 'state') };
  delete env.Q_TOKEN;
  const procs: ChildProcess[] = [];
  try {
    const master = q(dir, ['-mode', 'master', '-masterPort', '0'], env);
    procs.push(master);
    const port = Number((await waitLine(master, /port (\d+)/))[1]);
    const worker = q(dir, ['-mode', 'worker', '-masterPort', String(port), '-slots', String(SLOTS), '-handle', 'bench', '-basePath', join(dir, 'scratch')], env);
    procs.push(worker);
    await waitLine(worker, /=====/);
    const token = readFileSync(join(dir, 'state', 'token'), 'utf8').trim();
    const conn = await Connection.open({ host: '127.0.0.1', port, token, timeoutMs: 5000 });
    // Wait until the worker is connected.
    for (let i = 0; i < 100; i++) {
      const { workers } = await conn.request({ type: 'workers' }, 'workerList');
      if (workers.some((w) => w.connected)) break;
      await sleep(50);
    }

    console.log(`q bench: ${N} jobs, -slots ${SLOTS}, node ${process.version}`);
    // Throughput: all jobs submitted in one batch, clock from submit to last finish.
    const t0 = Date.now();
    const { handles } = await conn.request({ type: 'add', jobs: Array.from({ length: N }, () => spec('true')) }, 'added');
    await untilFinished(conn, handles, 120_000);
    const { jobs } = await conn.request({ type: 'list', specs: [] }, 'jobs');
    const lastFinish = Math.max(...jobs.map((j: JobView) => j.finishedAt ?? 0));
    const failed = jobs.filter((j) => j.status !== 'done').length;
    const secs = (lastFinish - t0) / 1000;
    console.log(`throughput: ${(N / secs).toFixed(0)} jobs/s (${N} jobs in ${secs.toFixed(2)} s, ${failed} not done)`);
    await conn.request({ type: 'delete', specs: ['all'] }, 'affected');

    // Latency: one job at a time into an idle worker.
    const latencyJobs: string[] = [];
    for (let i = 0; i < LATENCY_N; i++) {
      latencyJobs.push(...(await conn.request({ type: 'add', jobs: [spec('true')] }, 'added')).handles);
      await sleep(15);
    }
    await untilFinished(conn, latencyJobs, 60_000);
    const lat = (await conn.request({ type: 'list', specs: [] }, 'jobs')).jobs
      .map((j) => (j.startedAt ?? NaN) - j.createdAt)
      .filter((x) => Number.isFinite(x))
      .sort((a, b) => a - b);
    console.log(`submit→start: p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms (${lat.length} jobs, ms clock)`);
    await conn.request({ type: 'delete', specs: ['all'] }, 'affected');
    await dockerOverhead(conn);
    conn.close();

    // Bulk add: the whole client process, as a user runs it. The worker is stopped first so
    // that the figure is the add alone.
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    const input = Array.from({ length: BULK_N }, (_, i) => `echo job ${i}`).join('\n') + '\n';
    const b0 = Date.now();
    const r = spawnSync(process.execPath, [BIN_Q, '-masterPort', String(port), '-add', '-'], { cwd: dir, env, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const bulk = (Date.now() - b0) / 1000;
    const added = (r.stdout.match(/added successfully/g) ?? []).length;
    console.log(`bulk add: ${added} commands via q -add - in ${bulk.toFixed(2)} s`);
    const c0 = Date.now();
    spawnSync(process.execPath, [BIN_Q, '-masterPort', String(port), '-list', 'J-000000'], { cwd: dir, env });
    console.log(`client call: ${Date.now() - c0} ms for one q -list (process start to exit)`);
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

// `npm run bench -- scale`: the master at scale (scale.ts) instead.
// `npm run bench -- workflow`: what waiting for jobs costs (workflow.ts).
// `npm run bench -- slurm`: pilots on the Slurm of this machine (slurm.ts).
// `npm run bench -- add`: a million-line `q -add -` (add.ts).
const SUBS: Record<string, () => Promise<unknown>> = { add: () => import('./add.js'), scale: () => import('./scale.js'), workflow: () => import('./workflow.js'), slurm: () => import('./slurm.js') };
const sub = Object.keys(SUBS).find((name) => process.argv.includes(name));
const run = sub ? SUBS[sub]!().then(() => undefined) : main();
run.catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
