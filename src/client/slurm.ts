// Workers as Slurm jobs ("pilots", as dask-jobqueue and Parsl start them): q keeps the job
// table and the scheduling, Slurm hands out the machines. One job array of N pilots, each
// running `q -mode worker` with a handle naming its Slurm job, a -walltime a little under the
// Slurm time limit (so it never takes a job it could not finish) and a -lifetime (so an idle
// one gives its machine back). The token reaches the pilots through sbatch's environment:
// never on a command line, never in a file the script or the job's output could show.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, QError } from '../common/errors.js';
import { formatTime } from '../common/units.js';

/** The Slurm job name of every pilot q starts: -termWorkers slurm and -autoscale find them by it. */
export const PILOT_NAME = 'q-pilot';
/** A pilot's q handle: slurm-JOBID_TASK (its array job and task), so -w shows the Slurm job. */
export const PILOT_HANDLE = /^slurm-(\d+)_(\d+)$/;

export interface PilotSpec {
  count: number;
  masterHost: string;
  masterPort: number;
  /** -workerTime: the Slurm time limit of each pilot, seconds. */
  timeS: number;
  /** -lifetime of each pilot, seconds. */
  lifetimeS: number;
  slots: number;
  /** Per pilot; null: Slurm's default. */
  memMb: number | null;
  cpus: number | null;
  gpus: number;
  partition: string | null;
  queues: string[];
  /** -slurmArgs: more sbatch options, as words. */
  extra: string[];
  /** Where pilots keep their scratch directories (each its own, under it). */
  basePath: string;
  /** The certificate pilots trust (-tls), by path. */
  tls: string | null;
}

const BIN_Q = fileURLToPath(new URL('../../bin/q', import.meta.url));

/** Slurm's D-HH:MM:SS. */
export function slurmTime(seconds: number): string {
  const s = Math.max(60, Math.ceil(seconds));
  const d = Math.floor(s / 86400);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d}-${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/** A pilot's -walltime: its Slurm limit less a margin (a tenth, at most 5 minutes), so it is done before Slurm ends it. */
export function pilotWalltime(timeS: number): number {
  return Math.max(30, Math.floor(timeS - Math.min(300, timeS / 10)));
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The batch script sbatch gets on its stdin. */
export function pilotScript(p: PilotSpec): string {
  // -slurmArgs' own --time or --partition stands instead of q's.
  const sb = [`--job-name=${PILOT_NAME}`, `--array=0-${p.count - 1}`];
  if (slurmOption(p.extra, 'time', 't') === null) sb.push(`--time=${slurmTime(p.timeS)}`);
  sb.push(`--cpus-per-task=${Math.ceil(p.cpus ?? p.slots)}`);
  if (p.memMb !== null) sb.push(`--mem=${p.memMb}M`);
  if (p.gpus > 0) sb.push(`--gres=gpu:${p.gpus}`);
  if (p.partition && slurmOption(p.extra, 'partition', 'p') === null) sb.push(`--partition=${p.partition}`);
  sb.push(`--output=${p.basePath}/${PILOT_NAME}-%A_%a.log`);
  const worker = [process.execPath, BIN_Q, '-mode', 'worker', '-masterHost', p.masterHost, '-masterPort', String(p.masterPort)].map(quote);
  const args = ['-slots', String(p.slots), '-walltime', `${pilotWalltime(p.timeS)}s`, '-lifetime', `${p.lifetimeS}s`];
  if (p.queues.length) args.push('-queues', ...p.queues);
  if (p.tls) args.push('-tls', p.tls);
  return [
    '#!/bin/sh',
    `# q pilots: ${p.count} workers for the master at ${p.masterHost}:${p.masterPort} (q -startWorkers -slurm)`,
    ...sb.map((o) => `#SBATCH ${o}`),
    ...p.extra.map((o) => `#SBATCH ${o}`),
    '# The token comes in the environment (Q_TOKEN), which the worker clears before any job runs.',
    `exec ${worker.join(' ')} -handle "slurm-\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}" \\`,
    `  -basePath ${quote(p.basePath)}/"slurm-\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}" ${args.map(quote).join(' ')}`,
    '',
  ].join('\n');
}

/** squeue's arguments for this user's pilots, one array task a line: `ID STATE`. */
export const SQUEUE_PILOTS = ['--noheader', '--me', `--name=${PILOT_NAME}`, '--array', '--format=%i %T'];

/** squeue's lines (SQUEUE_PILOTS) as [task id, state]. */
export function pilotTasks(stdout: string): [string, string][] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f): f is [string, string] => f.length === 2);
}

/** The job id `sbatch --parsable` printed, or null. */
function sbatchId(stdout: string): string | null {
  const id = stdout.trim().split(';')[0] ?? '';
  return /^\d+$/.test(id) ? id : null;
}

/** What a Slurm command said when it refused: its first line, without its own prefix. */
function refusal(cmd: string, stdout: string, stderr: string, status: number | null): string {
  return `${cmd}: ${(stderr || stdout).trim().split('\n')[0]?.replace(/^(sbatch|scancel|squeue): (error: )?/, '') || `exit ${status}`}`;
}

/** sbatch's environment (the token in it) and its stdin; the pilots' log directory made. */
function submission(p: PilotSpec, token: string): { env: NodeJS.ProcessEnv; script: string } {
  mkdirSync(p.basePath, { recursive: true }); // Slurm writes the pilots' logs there
  return { env: { ...process.env, Q_TOKEN: token }, script: pilotScript(p) };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): string {
  const r = spawnSync(cmd, args, { env, input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new QError(ErrorCodes.NOT_SUPPORTED, missing ? `-slurm: ${cmd} not found: is this a Slurm submit host?` : `${cmd}: ${r.error.message}`);
  }
  if (r.status !== 0) throw new QError(ErrorCodes.BAD_VALUE, refusal(cmd, r.stdout, r.stderr, r.status));
  return r.stdout;
}

/** Submits the pilots; the Slurm job id of their array. */
export function submitPilots(p: PilotSpec, token: string): string {
  const { env, script } = submission(p, token);
  const out = run('sbatch', ['--parsable'], env, script);
  const id = sbatchId(out);
  if (id === null) throw new QError(ErrorCodes.BAD_MESSAGE, `sbatch said: ${out.trim()}`);
  return id;
}

/**
 * Ends pilots: pending ones are cancelled; a running one gets TERM in its worker only (not in
 * its jobs), so it stops as a stopped worker does and its jobs go back to the queue. `which`:
 * `slurm` (every pilot of this user) or pilot handles. Array tasks are named one by one: the
 * array's own id would cancel its running tasks with its pending ones.
 */
export function cancelPilots(which: readonly string[]): number {
  const env = process.env;
  const all = which.length === 1 && which[0] === 'slurm';
  const named = new Set(
    all
      ? []
      : which.map((h) => {
          const m = PILOT_HANDLE.exec(h);
          if (!m) throw new QError(ErrorCodes.BAD_VALUE, `-termWorkers: ${h} is not a pilot q started on Slurm (slurm-JOB_TASK), nor 'slurm'`);
          return `${m[1]}_${m[2]}`;
        }),
  );
  const tasks = pilotTasks(run('squeue', SQUEUE_PILOTS, env)).filter(([id]) => all || named.has(id));
  const pending = tasks.filter(([, state]) => state === 'PENDING').map(([id]) => id);
  const running = tasks.filter(([, state]) => state !== 'PENDING').map(([id]) => id);
  if (pending.length) run('scancel', pending, env);
  if (running.length) run('scancel', ['--batch', '--signal=TERM', ...running], env);
  return tasks.length;
}

/** The same, without blocking (the master's autoscaler). */
export function submitPilotsAsync(p: PilotSpec, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const { env, script } = submission(p, token);
    const child = spawn('sbatch', ['--parsable'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`sbatch: ${e.message}`)));
    child.on('close', (code) => {
      const id = code === 0 ? sbatchId(out) : null;
      if (id !== null) resolve(id);
      else reject(new Error(refusal('sbatch', out, err, code)));
    });
    child.stdin.end(script);
  });
}

/** Slurm's time formats (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS) in seconds; null if not one. */
export function parseSlurmTime(v: string): number | null {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(v);
  if (!m) return null;
  const [d, a, b, c] = [m[1], m[2]!, m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)));
  if (d !== undefined) return d * 86400 + (a ?? 0) * 3600 + (b ?? 0) * 60 + (c ?? 0);
  if (c !== undefined) return a! * 3600 + b! * 60 + c;
  if (b !== undefined) return a! * 60 + b;
  return a! * 60;
}

/** The value of an sbatch option among -slurmArgs' words (--time=V, --time V, -t V). */
export function slurmOption(words: readonly string[], long: string, short?: string): string | null {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith(`--${long}=`)) return w.slice(long.length + 3);
    if (w === `--${long}` || (short && w === `-${short}`)) return words[i + 1] ?? null;
    if (short && w.startsWith(`-${short}`) && w.length > 2 && !w.startsWith('--')) return w.slice(2);
  }
  return null;
}

/** One line for the user: what went to Slurm. */
export function describeSubmission(id: string, p: PilotSpec): string {
  const last = p.count - 1;
  return `Submitted ${p.count} pilot${p.count === 1 ? '' : 's'} as Slurm job ${id} (workers slurm-${id}_0${last > 0 ? ` … slurm-${id}_${last}` : ''}; Slurm time ${formatTime(p.timeS)}, idle ones leave after ${formatTime(p.lifetimeS)})`;
}
