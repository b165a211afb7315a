// Cells as -list prints them (client/render.ts's human units), for the page's tables.
import { formatSize, formatTime } from '../../common/units.js';
import type { ListRow } from '../../protocol/listRow.js';

export const time = (s: number): string => (s < 0 ? '' : formatTime(Math.round(s)));
export const size = (mb: number): string => (mb < 0 ? '' : formatSize(Math.round(mb)));
export const ago = (ms: number, now: number): string => `${formatTime(Math.max(0, Math.round((now - ms) / 1000)))} ago`;
export const date = (ms: number | null): string => (ms === null ? '' : new Date(ms).toLocaleString());

/** The -list columns, and each one's cell. */
export const LIST_COLUMNS: readonly [string, (r: ListRow) => string][] = [
  ['handle', (r) => r[0]],
  ['worker', (r) => (r[1] ? `${r[1]} ${r[2] ?? ''}`.trim() : '')],
  ['status', (r) => r[3]],
  ['exitCode', (r) => (r[4] === null ? '' : String(r[4]))],
  ['exitReason', (r) => r[5] ?? ''],
  ['time', (r) => time(r[6])],
  ['mem', (r) => size(r[7])],
  ['disk', (r) => size(r[8])],
  ['outName', (r) => (r[9] ? (r[9].split('/').pop() ?? '') : '')],
  ['command', (r) => r[10]],
];
