// The cells of a -list row as people read them (human units, or raw numbers for -tabs): the
// terminal's table (client/render.ts) and the dashboard's (dashboard/page) are the same cells.
// No Node module here: the dashboard's bundle takes this file as it is.
import { formatSize, formatTime } from '../common/units.js';
import type { ListRow } from '../protocol/listRow.js';

/** -list's columns. Old scripts parse `-list -tabs`, so they and their order are fixed (docs/cli.md). */
export const LIST_COLUMNS = [
  'handle',
  'worker',
  'status',
  'exitCode',
  'exitReason',
  'time',
  'mem',
  'disk',
  'outName',
  'command',
] as const;

export type ListColumn = (typeof LIST_COLUMNS)[number];

/** Long commands keep their start and end: 38 + `...` + 38 characters. */
export function shortenCommand(command: string): string {
  return command.length <= 77 ? command : `${command.slice(0, 38)}...${command.slice(-38)}`;
}

function workerCell(worker: string | null, hostname: string | null): string {
  if (!worker) return '';
  return hostname ? `${worker} ${hostname}` : worker;
}

/** Tabs and newlines inside a cell would break a tab-separated row. */
function cell(s: string): string {
  return s.replace(/[\t\r\n]+/g, ' ');
}

/** A command as a cell: shortened, on one line (also -w's job column). */
export function commandCell(command: string): string {
  return cell(shortenCommand(command));
}

/** The last part of a path, as Node's path.basename gives it. */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** A time in seconds, or nothing when unknown (below 0). */
export const timeCell = (s: number): string => (s < 0 ? '' : formatTime(s));
/** A size in MB, or nothing when unknown (below 0). */
export const sizeCell = (mb: number): string => (mb < 0 ? '' : formatSize(mb));

/** The cells of a -list row, in LIST_COLUMNS order. */
export function listCells(row: ListRow, raw: boolean): string[] {
  const [handle, worker, hostname, status, exitCode, exitReason, realTime, maxMem, maxDisk, outPath, command] = row;
  const n = (v: number) => String(v < 0 ? -1 : Math.round(v));
  return [
    handle,
    workerCell(worker, hostname),
    status,
    exitCode === null ? '' : String(exitCode),
    cell(exitReason ?? ''),
    raw ? n(realTime) : timeCell(realTime),
    raw ? n(maxMem) : sizeCell(maxMem),
    raw ? n(maxDisk) : sizeCell(maxDisk),
    outPath ? baseName(outPath) : '',
    commandCell(command),
  ];
}
