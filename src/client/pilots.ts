// The client's -startWorkers N -slurm and -termWorkers: pilots on Slurm (slurm.ts). Neither
// needs the master: sbatch and scancel do the work, and the pilots then connect to it.
import { resolve } from 'node:path';
import { ErrorCodes, QError } from '../common/errors.js';
import { parseSize, parseTime } from '../common/units.js';
import { positiveInt, type Parsed } from '../cli/parse.js';
import type { Target } from './connection.js';
import { cancelPilots, describeSubmission, parseSlurmTime, pilotScript, slurmOption, submitPilots, type PilotSpec } from './slurm.js';

/** Pilots' defaults: an hour of Slurm time, and idle ones leave after 10 minutes. */
export const PILOT_TIME = '1h';
export const PILOT_LIFETIME = '10m';

/** sbatch options as words: -slurmArgs '--partition=cpu --time=8:00:00'. */
export function slurmWords(v: string | undefined): string[] {
  return (v ?? '').split(/\s+/).filter(Boolean);
}

/**
 * A pilot's Slurm time limit, seconds: -slurmArgs' own --time when it has one (Slurm holds the
 * pilot to that one, and the worker's -walltime must be cut from it), else `fallback`.
 */
export function pilotTimeS(extra: readonly string[], fallback: string, what: string): number {
  const given = slurmOption(extra, 'time', 't');
  const s = given === null ? parseTime(fallback, what) : parseSlurmTime(given);
  if (s === null) throw new QError(ErrorCodes.BAD_VALUE, `-slurmArgs: --time ${given} is not a Slurm time`);
  return s;
}

/** The pilots the options describe (sizes from -slots, -mem, -cpus, -gpus, as a job's). */
export function pilotSpec(p: Parsed, count: number, target: Pick<Target, 'port'>): PilotSpec {
  const extra = slurmWords(p.str('slurmArgs'));
  const mem = p.str('mem');
  return {
    count,
    masterHost: p.str('masterHost') ?? 'localhost',
    masterPort: target.port,
    timeS: pilotTimeS(extra, p.str('workerTime') ?? PILOT_TIME, '-workerTime'),
    lifetimeS: parseTime(p.str('lifetime') ?? PILOT_LIFETIME, '-lifetime'),
    slots: positiveInt(p, 'slots', 1),
    memMb: mem === undefined ? null : parseSize(mem, '-mem'),
    cpus: p.num('cpus') ?? null,
    gpus: p.int('gpus') ?? 0,
    partition: p.str('partition') ?? null,
    queues: p.list('queues') ?? [],
    extra,
    basePath: resolve(p.str('basePath') ?? 'scratch'),
    tls: p.list('tls')?.[0] ?? null,
  };
}

/** Runs -startWorkers / -termWorkers / -runWorkers if given; the exit code, or null if none was. */
export function runPilots(p: Parsed, target: () => Target, io: { out(text: string): void }): number | null {
  if (p.given.has('runWorkers')) {
    throw new QError(ErrorCodes.NOT_SUPPORTED, '-runWorkers is not supported: q starts workers as Slurm jobs with -startWorkers N -slurm');
  }
  if (p.given.has('startWorkers')) {
    const count = p.int('startWorkers') ?? 0;
    if (count < 1) throw new QError(ErrorCodes.BAD_VALUE, `-startWorkers needs a number of workers, at least 1`);
    if (!p.bool('slurm')) throw new QError(ErrorCodes.NOT_SUPPORTED, '-startWorkers starts workers on Slurm only: add -slurm (EC2 is not supported)');
    const t = target();
    const spec = pilotSpec(p, count, t);
    if (p.bool('pretend')) {
      io.out(pilotScript(spec).trimEnd());
      return 0;
    }
    io.out(describeSubmission(submitPilots(spec, t.token), spec));
    return 0;
  }
  if (p.given.has('termWorkers')) {
    const which = p.list('termWorkers') ?? [];
    if (which.length === 0) throw new QError(ErrorCodes.BAD_VALUE, '-termWorkers needs slurm (every pilot) or pilot handles');
    const n = cancelPilots(which);
    io.out(`${n} workers terminated`);
    return 0;
  }
  return null;
}
