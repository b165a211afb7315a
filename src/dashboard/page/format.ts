// How the page shows times, sizes and dates, and what its job table sorts by.
import { formatSize, formatTime } from '../../common/units.js';
import type { ListRow } from '../../protocol/listRow.js';
import { baseName, type ListColumn } from '../../jobs/listCells.js';

// As -list's cells (jobs/listCells.ts) show them, so that a job's page and its row agree.
export const time = (s: number): string => (s < 0 ? '' : formatTime(s));
export const size = (mb: number): string => (mb < 0 ? '' : formatSize(mb));
export const ago = (ms: number, now: number): string => `${formatTime(Math.max(0, Math.round((now - ms) / 1000)))} ago`;
export const date = (ms: number | null): string => (ms === null ? '' : new Date(ms).toLocaleString());

/** What each -list column sorts by on the page (numbers by their value); its cells are jobs/listCells.ts's. */
export const SORT_KEYS: Record<ListColumn, (r: ListRow) => number | string> = {
  handle: (r) => r[0],
  worker: (r) => r[1] ?? '',
  status: (r) => r[3],
  exitCode: (r) => r[4] ?? -1,
  exitReason: (r) => r[5] ?? '',
  time: (r) => r[6],
  mem: (r) => r[7],
  disk: (r) => r[8],
  outName: (r) => (r[9] ? baseName(r[9]) : ''),
  command: (r) => r[10],
};
