// How a job can end, in one place: the exit codes q gives (beside the command's own), the
// reasons it writes, and the result of a job that never ran. Used by the store's SQL, the
// master, the worker and dispatch-q.
import { constants as osConstants } from 'node:os';
import type { Result } from '../protocol/jobState.js';
import { formatSize, formatTime } from './units.js';

export const ExitCodes = {
  /** q could not provide what the job needed: an input, an image, a place, its worker. */
  NOT_PROVIDED: 125,
  /** Its shell or program could not be executed (permission). */
  CANNOT_EXECUTE: 126,
  /** Its shell or program was not found. */
  NOT_FOUND: 127,
  /** Ended by KILL (128 + 9): after the grace period, or with its worker unreachable. */
  KILLED: 137,
  /** Ended by TERM (128 + 15), or ended before it started. */
  TERMINATED: 143,
} as const;

/** A process that died of `signal` reports 128 + its number, as a shell does. */
export function signalExitCode(signal: string): number {
  return 128 + (osConstants.signals[signal as NodeJS.Signals] ?? osConstants.signals.SIGTERM);
}

/** SIGTERM for "15", "TERM" or "SIGTERM" (the Docker engine's event log uses either form). */
export function signalName(signal: string): string {
  if (!/^\d+$/.test(signal)) return signal.startsWith('SIG') ? signal : `SIG${signal}`;
  const n = Number(signal);
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

export const Reasons = {
  killedByRequest: 'Killed by server request',
  killedBeforeStart: 'Killed before it started',
  deleted: 'Deleted',
  /** The prefix of a job that lost its worker more often than its -retries allow (store SQL). */
  workerLost: 'Worker lost: ',
  outputsNotDelivered: (what: string) => `Outputs not delivered: ${what}`,
  timeLimit: (ranSeconds: number, limitSeconds: number) => `Time limit exceeded: ran ${ranSeconds.toFixed(1)}s, limit ${formatTime(limitSeconds)}`,
  memLimit: (usedMb: number, limitMb: number, grace: number) => `Memory limit exceeded: used ${formatSize(usedMb)}, limit ${formatSize(limitMb)} * ${grace}`,
  diskLimit: (usedMb: number, limitMb: number) => `Disk limit exceeded: outPath holds ${formatSize(usedMb)}, limit ${formatSize(limitMb)}`,
  diskFullAtEnd: (freeMb: number, basePath: string) =>
    `The worker's disk was full when it ended (${formatSize(freeMb)} free under ${basePath}): its output may be incomplete`,
  takenAway: 'The master took this job away',
  /** What -list says of a job held by -hold (store SQL). */
  held: 'held: q -release to run it',
  dependencyFailed: (handle: string) => `Dependency ${handle} failed`,
  /** A job released (-release) while it still waits for its retry (store SQL). */
  retryPending: 'waiting for its retry (-retry)',
  /** A job of an add whose last part has not arrived (store/adds.ts). */
  beingAdded: 'being added: runs once its whole add has arrived',
  retrying: (exitCode: number, retry: number, of: number, inS: number) => `exit code ${exitCode}: retry ${retry}/${of} in ${formatTime(inS)}`,
} as const;

/** The result of a job that ended without running (or before anything was measured). */
export function resultWithoutRun(exitCode: number, exitReason: string | null): Result {
  return { exitCode, exitReason, realTime: 0, userTime: 0, maxMem: -1, maxDisk: -1 };
}
