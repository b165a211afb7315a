// `q -wait`: blocks until every job it names has ended, like `sbatch --wait` or `pueue wait`.
// It asks the master for the jobs' rows every POLL_MS; a master that goes away (restarted,
// killed) is reconnected to and the wait goes on. On a terminal one progress line is
// rewritten in place; in a pipe or with -json nothing is printed until the end.
import { Connection, listRows, type Target } from './connection.js';
import { formatTime } from '../common/units.js';
import { ErrorCodes, isQError } from '../common/errors.js';
import type { ListRow } from '../protocol/listRow.js';

const POLL_MS = 1000;

export interface WaitCounts {
  jobs: number;
  done: number;
  failed: number;
  running: number;
  waiting: number;
}

/** Counts of `rows` by where they are; a handle with no row was deleted: failed. */
export function countRows(handles: readonly string[], rows: readonly ListRow[]): WaitCounts {
  const counts: WaitCounts = { jobs: handles.length, done: 0, failed: 0, running: 0, waiting: 0 };
  for (const r of rows) {
    const status = r[3];
    if (status === 'done') counts.done++;
    else if (status === 'failed') counts.failed++;
    else if (status === 'ready' || status === 'held') counts.waiting++;
    else counts.running++;
  }
  counts.failed += handles.length - rows.length;
  return counts;
}

export function describe(c: WaitCounts, elapsedS: number): string {
  return `${c.jobs} job${c.jobs === 1 ? '' : 's'}: ${c.done} done, ${c.failed} failed, ${c.running} running, ${c.waiting} waiting (${formatTime(elapsedS)})`;
}

export interface WaitIo {
  /** One line, rewritten in place (a terminal), or null: print nothing until the end. */
  progress: ((line: string) => void) | null;
}

/**
 * Waits until every job of `handles` has ended. Returns the last rows seen, the counts and
 * the seconds it waited. `conn` is the connection the caller has; a new one is opened to
 * `target` if it fails.
 */
export async function waitForJobs(
  conn: Connection,
  target: () => Target,
  handles: readonly string[],
  io: WaitIo,
): Promise<{ counts: WaitCounts; rows: ListRow[]; conn: Connection; elapsedS: number }> {
  const t0 = Date.now();
  const elapsedS = () => (Date.now() - t0) / 1000;
  let current: Connection | null = conn;
  for (;;) {
    try {
      current ??= await Connection.open(target());
      const rows: ListRow[] = [];
      await listRows(current, [...handles], (part) => rows.push(...part));
      const counts = countRows(handles, rows);
      io.progress?.(describe(counts, elapsedS()));
      if (counts.done + counts.failed === counts.jobs) return { counts, rows, conn: current, elapsedS: elapsedS() };
    } catch (e) {
      // The master went away (restarted, killed): wait, connect again, go on.
      if (!isQError(e) || (e.code !== ErrorCodes.NO_MASTER && e.code !== ErrorCodes.BUSY)) throw e;
      current?.close();
      current = null;
      io.progress?.(`master unreachable; still waiting (${formatTime(elapsedS())})`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
