// How the page shows how long ago and when (times and sizes are -list's cells, jobs/listCells.ts),
// and what its job table sorts by.
import { formatTime } from '../../common/units.js';
import type { ListRow } from '../../protocol/listRow.js';
import { baseName, type ListColumn } from '../../jobs/listCells.js';

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
