// Cells as -list prints them (client/render.ts's human units), for the page's tables.
import { formatSize, formatTime } from '../../common/units.js';
import type { ListRow } from '../../protocol/listRow.js';

export const time = (s: number): string => (s < 0 ? '' : formatTime(Math.round(s)));
export const size = (mb: number): string => (mb < 0 ? '' : formatSize(Math.round(mb)));
export const ago = (ms: number, now: number): string => `${formatTime(Math.max(0, Math.round((now - ms) / 1000)))} ago`;
export const date = (ms: number | null): string => (ms === null ? '' : new Date(ms).toLocaleString());

const outName = (r: ListRow) => (r[9] ? (r[9].split('/').pop() ?? '') : '');

/** The -list columns: each one's cell, and what it sorts by (numbers by their value). */
export const LIST_COLUMNS: readonly [string, (r: ListRow) => string, (r: ListRow) => number | string][] = [
  ['handle', (r) => r[0], (r) => r[0]],
  ['worker', (r) => (r[1] ? `${r[1]} ${r[2] ?? ''}`.trim() : ''), (r) => r[1] ?? ''],
  ['status', (r) => r[3], (r) => r[3]],
  ['exitCode', (r) => (r[4] === null ? '' : String(r[4])), (r) => r[4] ?? -1],
  ['exitReason', (r) => r[5] ?? '', (r) => r[5] ?? ''],
  ['time', (r) => time(r[6]), (r) => r[6]],
  ['mem', (r) => size(r[7]), (r) => r[7]],
  ['disk', (r) => size(r[8]), (r) => r[8]],
  ['outName', outName, outName],
  ['command', (r) => r[10], (r) => r[10]],
];
