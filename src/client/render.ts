// How jobs and workers look on a terminal: the -list and -w tables (aligned, or tab-separated
// raw numbers with -tabs; a -list row's cells are jobs/listCells.ts), the -info blocks.
import { relative } from 'node:path';
import { formatSize, formatTime } from '../common/units.js';
import { lowOnDisk, type WorkerView } from '../protocol/resources.js';
import { type JobView } from '../protocol/jobState.js';
import { listRowOf, type ListRow } from '../protocol/listRow.js';
import { droppedNote } from '../common/logLimit.js';
import { baseName, commandCell, listCells } from '../jobs/listCells.js';

/** fig's columns in fig's order (scripts cut them by position), then q's own. */
export const WORKER_COLUMNS = [
  'handle',
  'hostname',
  'version',
  'status',
  'pendingAction',
  'numCPUs',
  'cpuSpeed',
  'freeMem',
  'freeDisk',
  'procSummary',
  'ping',
  'job',
  'slots',
  'docker',
  'gpus',
  'queues',
  'isolation',
] as const;

export function jobRow(job: JobView, raw: boolean): string[] {
  return listCells(listRowOf(job), raw);
}

/** Rows joined by tabs, or left-aligned with two spaces between columns (last unpadded). */
export function renderTable(header: readonly string[], rows: string[][], opts: { tabs: boolean; headers: boolean }): string {
  const all = opts.headers ? [[...header], ...rows] : rows;
  if (opts.tabs) return all.map((r) => r.join('\t')).join('\n');
  const widths = header.map((_, i) => Math.max(0, ...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

function date(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function rel(path: string, cwd: string): string {
  return path.startsWith(cwd + '/') ? relative(cwd, path) : path;
}

export function renderInfo(job: JobView, cwd: string): string {
  const where = job.worker ? ` on ${job.worker}` : '';
  const lines = [`${job.handle} : ${date(job.createdAt)} [${job.status}${where}] {${job.tags.join(',')}}: ${job.command}`];
  if (job.exitCode !== null) lines.push(`  exitCode: ${job.exitCode}`);
  if (job.exitReason) lines.push(`  exitReason: ${job.exitReason}`);
  if (job.worker) {
    const now = job.status === 'running' && job.curMem >= 0 ? ` (now ${formatSize(job.curMem)})` : '';
    lines.push(`  time: ${formatTime(job.realTime)}, mem: ${formatSize(job.maxMem)}${now}, disk: ${formatSize(job.maxDisk)}`);
  }
  lines.push(
    `  limits: time ${formatTime(job.time)}, mem ${formatSize(job.mem)} * ${job.memGrace}, disk ${formatSize(job.disk)}, ` +
      `priority ${job.priority}, log ${formatSize(job.logLimit)}`,
  );
  if (job.logDropped > 0) lines.push(`  log: ${droppedNote(job.logDropped, job.logLimit)}`);
  if (job.dockerImage) {
    const extras = [job.cpus !== null ? `cpus ${job.cpus}` : '', job.gpus ? `gpus ${job.gpus}` : '', job.network ? 'network' : 'no network'];
    lines.push(`  docker: ${job.dockerImage} (${extras.filter(Boolean).join(', ')})`);
  }
  if (job.workerHandle) lines.push(`  workerHandle: ${job.workerHandle}`);
  if (job.retry > 0) {
    const codes = job.retryCodes.length ? ` (exit codes ${job.retryCodes.join(' ')})` : '';
    const next = job.retryAt !== null ? `, the next at ${date(job.retryAt)}` : '';
    lines.push(`  retry: ${job.retried} of ${job.retry} made${codes}${next}`);
  }
  if (job.after.length) lines.push(`  after: ${job.after.join(' ')}`);
  if (job.afterAny.length) lines.push(`  afterAny: ${job.afterAny.join(' ')}`);
  for (const p of job.inPaths) lines.push(`  I: ${rel(p, cwd)}`);
  for (const p of job.realtimeInPaths) lines.push(`  R: ${rel(p, cwd)}`);
  if (job.outPath) lines.push(`  O: ${rel(job.outPath, cwd)}${job.outFiles.length ? ` [${job.outFiles.join(' ')}]` : ''}`);
  return lines.join('\n');
}

/** The engine's version, or "no"; "only" when the worker runs nothing outside containers. */
function dockerCell(r: WorkerView['resources']): string {
  const version = r.docker ?? null;
  if (r.bare ?? true) return version ?? 'no';
  return version ? `${version} only` : 'no (required)';
}

/**
 * A row of -w. `jobs`: the rows of the jobs the workers hold, for fig's `J-…: [outName]
 * command` (a handle alone when its row did not come).
 */
export function workerRow(w: WorkerView, now: number, jobs: ReadonlyMap<string, ListRow> = new Map()): string[] {
  const r = w.resources;
  const job = (h: string) => {
    const row = jobs.get(h);
    return row ? `${h}: [${row[9] ? baseName(row[9]) : ''}] ${commandCell(row[10])}` : h;
  };
  return [
    w.handle,
    r.hostname,
    r.version ?? '',
    !w.connected ? 'away' : lowOnDisk(r) ? 'diskFull' : w.jobs.length ? 'busy' : 'idle',
    // fig queued kills too until the worker's next poll; q sends them at once, so only a
    // -resetWorkers waiting for the worker to be idle is ever pending.
    w.pendingAction ?? '',
    String(r.cpus),
    String(Math.round(r.cpuSpeed)),
    formatSize(r.freeMem),
    formatSize(r.freeDisk),
    r.busyProcesses.join(' '),
    // A heartbeat recorded just after `now` was read is 0 s ago, not -0.3 s.
    `-${formatTime(Math.max(0, now - w.lastSeen) / 1000)}`,
    w.jobs.map(job).join(', '),
    `${w.jobs.length}/${w.slots}`,
    dockerCell(r),
    String(r.gpus ?? 0),
    (r.queues ?? []).join(','),
    r.isolation ?? 'unknown',
  ];
}

/** Rows an aligned table holds before it prints: its columns are as wide as theirs. */
export const ALIGN_ROWS = 1000;
/** Narrowest a cell is cut to on a terminal. */
const MIN_CELL = 12;

/**
 * A table printed as its rows arrive (a paged listing). The aligned table holds the first
 * ALIGN_ROWS rows, however many pages bring them (the master's first page is short, so that
 * -tabs prints at once), and prints them as renderTable would; a later row with a wider cell
 * widens that column from there on. -tabs prints every page as it comes.
 */
export class TableStream {
  private widths: number[] | null = null;
  private readonly held: string[][] = [];

  /**
   * @param opts.fit on a terminal: its width, and a column whose cells may be cut besides the
   *   last one (the command), so that a row does not wrap
   */
  constructor(
    private readonly header: readonly string[],
    private readonly opts: { tabs: boolean; headers: boolean; fit?: { width: number; squeeze: number } },
    private readonly out: (text: string) => void,
  ) {}

  /** The widths rows are printed at: as wide as their cells, or less to fit the terminal. */
  private fitted(widths: readonly number[]): number[] {
    const shown = [...widths];
    const fit = this.opts.fit;
    if (!fit) return shown;
    const total = () => shown.reduce((a, w) => a + w, 0) + 2 * (shown.length - 1);
    const last = shown.length - 1;
    // The command gives way to 30 first, then the squeezed column to 20, then both further.
    for (const [col, floor] of [[last, 30], [fit.squeeze, 20], [last, MIN_CELL], [fit.squeeze, MIN_CELL]] as const) {
      const over = total() - fit.width;
      if (over > 0 && shown[col]! > floor) shown[col] = Math.max(floor, shown[col]! - over);
    }
    return shown;
  }

  rows(rows: string[][]): void {
    if (rows.length === 0) return;
    if (this.opts.tabs || this.widths !== null) return this.print(rows);
    this.held.push(...rows);
    if (this.held.length >= ALIGN_ROWS) this.print(this.held.splice(0));
  }

  private print(rows: string[][]): void {
    const first = this.widths === null;
    const all = first && this.opts.headers ? [[...this.header], ...rows] : rows;
    if (this.opts.tabs) {
      this.widths ??= [];
      if (all.length) this.out(all.map((r) => r.join('\t')).join('\n'));
      return;
    }
    const widths = (this.widths ??= this.header.map(() => 0));
    for (const r of all) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
    const shown = this.fitted(widths);
    const cut = (c: string, w: number) => (c.length > w ? c.slice(0, w - 1) + '…' : c);
    if (all.length) this.out(all.map((r) => r.map((c, i) => (i === r.length - 1 ? cut(c, shown[i]!) : cut(c, shown[i]!).padEnd(shown[i]!))).join('  ').trimEnd()).join('\n'));
  }

  /** The rows still held; or, when no row came, the header alone if headers are asked for. */
  end(): void {
    if (this.held.length) this.print(this.held.splice(0));
    else if (this.widths === null && this.opts.headers) this.print([]);
  }
}

/** A JSON array printed as its items arrive, exactly as JSON.stringify(items, null, 2) prints it whole. */
export class JsonArrayStream {
  private pending: string | null = null;
  private started = false;

  constructor(private readonly out: (text: string) => void) {}

  items(values: readonly unknown[], last: boolean): void {
    const lines: string[] = [];
    for (const v of values) {
      if (this.pending !== null) lines.push(this.pending + ',');
      this.pending = JSON.stringify(v, null, 2).replace(/^/gm, '  ');
    }
    if (last) {
      if (this.pending === null) return this.out(this.started ? ']' : '[]');
      lines.push(this.pending);
      this.out((this.started ? '' : '[\n') + lines.join('\n') + '\n]');
      return;
    }
    if (lines.length === 0) return;
    this.out((this.started ? '' : '[\n') + lines.join('\n'));
    this.started = true;
  }
}
