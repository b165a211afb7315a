// How a job's log is held to its -logLimit: the first half of its output (stdout and stderr
// together, in the order they arrived) and the last half are kept, what lies between is
// dropped, and the log and -info say how much. The master keeps the halves; the worker frees
// the disk its own copy of the middle took (master/logs.ts, worker/jobFiles.ts).
import { formatSize } from './units.js';

/** MB kept unless the job says otherwise. */
export const DEFAULT_LOG_LIMIT_MB = 100;
/** The largest -logLimit, in MB (1 TB). */
export const MAX_LOG_LIMIT_MB = 1024 * 1024;

/** Bytes of the head and of the tail a log of this limit keeps. */
export function logKeeps(limitMb: number): { head: number; tail: number } {
  const bytes = Math.round(limitMb * 1024 * 1024);
  const head = Math.floor(bytes / 2);
  return { head, tail: bytes - head };
}

function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)}k` : formatSize(bytes / 1024 / 1024);
}

/** What -info says, and the log's marker line, of a log that dropped `bytes`. */
export function droppedNote(bytes: number, limitMb: number): string {
  const { head, tail } = logKeeps(limitMb);
  return `${bytes} bytes (${size(bytes)}) of output dropped from the middle: -logLimit ${formatSize(limitMb)} keeps the first ${size(head)} and the last ${size(tail)}`;
}
