// `npm run bench -- slurm`: pilots against the Slurm on this machine (scripts/test-slurm.sh).
// Prints figures; asserts nothing.
//   first job   `q -startWorkers 1 -slurm` with a job waiting: from the call to the job running
//               on the pilot (sbatch, Slurm's start, the worker's start and hello, the claim)
//   autoscale   --jobs (100) `true` jobs with no worker and -autoscale slurm:--pilots (2): from
//               the add to the last one done; beside the same jobs as `sbatch --wrap true`
//               each, from the first sbatch to the last one gone from squeue
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '../client/connection.js';
import { makeJobSpec } from '../protocol/jobSpec.js';
import { numArg, sleep, until } from './helpers.js';

const JOBS = numArg('jobs', 100);
const PILOTS = numArg('pilots', 2);
const BIN_Q = fileURLToPath(new URL('../../bin/q', import.meta.url));
const spec = () => makeJobSpec({ command: 'true', workingPath: '/tmp', time: 60, mem: 64, disk: 1024 });
const squeueCount = (name: string) =>
  spawnSync('squeue', ['--noheader', '--me', `--name=${name}`, '--array', '--format=%i'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;


async function master(dir: string, extra: string[], procs: ChildProcess[]): Promise<{ conn: Connection; port: number; env: NodeJS.ProcessEnv }> {
  const env = { ...process.env, Q_STATE: join(dir, 'state') };
  const m = spawn(process.execPath, [BIN_Q, '-mode', 'master', '-masterPort', '0', ...extra], { env, cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(m);
  let out = '';
  m.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const port = Number(await until('the master', () => /port (\d+)/.exec(out)?.[1]));
  const token = readFileSync(join(dir, 'state', 'token'), 'utf8').trim();
  return { conn: await Connection.open({ host: '127.0.0.1', port, token, timeoutMs: 60_000 }), port, env };
}

async function allDone(conn: Connection, handles: string[]): Promise<void> {
  await until('the jobs done', async () => {
    const { jobs } = await conn.request({ type: 'list', specs: handles }, 'jobs');
    return jobs.every((j) => j.status === 'done') ? true : undefined;
  });
}

async function main(): Promise<void> {
  if (spawnSync('sinfo', ['--noheader'], { encoding: 'utf8' }).status !== 0) throw new Error('no Slurm answers here: bash scripts/test-slurm.sh');
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  const fresh = () => {
    const d = mkdtempSync(join(tmpdir(), 'q-slurm-bench-'));
    dirs.push(d);
    return d;
  };
  try {
    console.log(`q slurm bench: ${JOBS} jobs, at most ${PILOTS} pilots, node ${process.version}`);
    {
      const dir = fresh();
      const { conn, port, env } = await master(dir, [], procs);
      const [h] = (await conn.request({ type: 'add', jobs: [spec()] }, 'added')).handles;
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [BIN_Q, '-masterPort', String(port), '-startWorkers', '1', '-slurm', '-workerTime', '5m', '-lifetime', '3s'], { env, cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      await until('the job running', async () => {
        const j = (await conn.request({ type: 'list', specs: [h!] }, 'jobs')).jobs[0];
        return j?.startedAt ? true : undefined;
      });
      console.log(`first job: ${((performance.now() - t0) / 1000).toFixed(2)} s from q -startWorkers to the job running on the pilot`);
      await until('the pilot gone', () => (squeueCount('q-pilot') === 0 ? true : undefined));
      conn.close();
    }
    {
      const dir = fresh();
      const { conn } = await master(dir, ['-autoscale', `slurm:${PILOTS}`, '-lifetime', '3s', '-slurmArgs', '--time=00:10:00'], procs);
      const t0 = performance.now();
      const { handles } = await conn.request({ type: 'add', jobs: Array.from({ length: JOBS }, spec) }, 'added');
      await allDone(conn, handles);
      const viaQ = (performance.now() - t0) / 1000;
      await until('the pilots gone', () => (squeueCount('q-pilot') === 0 ? true : undefined));
      conn.close();
      const b0 = performance.now();
      for (let i = 0; i < JOBS; i++) {
        const r = spawnSync('sbatch', ['--job-name=q-bench-wrap', '--output=/dev/null', '--wrap', 'true'], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(r.stderr);
      }
      await until('the sbatch jobs gone', () => (squeueCount('q-bench-wrap') === 0 ? true : undefined));
      const bare = (performance.now() - b0) / 1000;
      console.log(
        `autoscale: ${JOBS} jobs in ${viaQ.toFixed(1)} s through q (${(JOBS / viaQ).toFixed(1)} jobs/s, at most ${PILOTS} pilots), ` +
          `${bare.toFixed(1)} s as sbatch --wrap (${(JOBS / bare).toFixed(1)} jobs/s): ratio ${(bare / viaQ).toFixed(1)}x`,
      );
    }
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await sleep(500);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
