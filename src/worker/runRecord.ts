// What a worker keeps on disk about each run, of either kind, beside the job's output
// (`.q/jobs/HANDLE/run.json`), so that a worker restarted while its jobs run can take them
// back: the assignment, when it started, the kill it began (reason, and when its KILL is
// due), and for a process run its slot shell (process group, start time, boot, cgroup). A
// process run's exit status is a file of its own (`exit`), written by the slot shell.
//
// Where each run's output stands is not recorded: the master's welcome says how much it has.
//
// Written whole to a temporary file and renamed, so a worker killed while writing leaves the
// old record or the new one, never half of one. Records of the previous layout (process.json
// for processes; job.json + kill.json for containers) are still read, and removed with it.
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCleanAbsolute } from '../files/paths.js';
import { AssignmentSchema, type Assignment } from '../protocol/jobState.js';

export const RUN_FILE = 'run.json';
/** Written by the slot shell when a process job's subshell exits. */
export const EXIT_FILE = 'exit';
/** The previous layout's files, read when there is no RUN_FILE. */
const LEGACY = { process: 'process.json', job: 'job.json', sent: 'sent.json', kill: 'kill.json' } as const;
const MAX_REASON = 1000;

export const RunKinds = ['process', 'container'] as const;
export type RunKind = (typeof RunKinds)[number];

/** A process run's slot shell: pid, start time and boot together tell it from a reused pid. */
export interface ShellRef {
  /** The slot shell's process group: the job's processes are in it. */
  pgid: number;
  shellStart: number;
  boot: string;
  /** The run's cgroup (cgroup.ts), when it has one. */
  cgroup?: string;
}

export interface RunRecord {
  kind: RunKind;
  job: Assignment;
  /** ms since the epoch: when the worker started it. */
  startedAt: number;
  /** A kill the worker began (a limit, or the master's), and when its KILL is due (ms since the epoch). */
  kill?: { reason: string; at: number };
  /** A process run's slot shell. */
  shell?: ShellRef;
  /** The directory the job's paths were resolved beneath (absent: a version that mirrored at the scratch base). */
  root?: string;
}

let boot: string | null = null;

/** This boot of the machine (a pid means nothing across a reboot). */
export function bootId(): string {
  if (boot === null) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = 'unknown';
    }
  }
  return boot;
}

export function writeRunRecord(dir: string, rec: RunRecord): void {
  const tmp = join(dir, `${RUN_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(rec));
  renameSync(tmp, join(dir, RUN_FILE));
}

function readJson(path: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function shellOf(raw: Record<string, unknown> | null | undefined): ShellRef | null {
  if (!raw || typeof raw.pgid !== 'number' || typeof raw.shellStart !== 'number' || typeof raw.boot !== 'string') return null;
  const ref: ShellRef = { pgid: raw.pgid, shellStart: raw.shellStart, boot: raw.boot };
  // Only a run's name (runner.ts runName): never `.` or `..`, which would name the worker's own.
  if (typeof raw.cgroup === 'string' && /^J-\w+-[\w-]+$/.test(raw.cgroup)) ref.cgroup = raw.cgroup;
  return ref;
}

function killOf(reason: unknown, at: unknown): RunRecord['kill'] {
  return typeof reason === 'string' && typeof at === 'number' ? { reason: reason.slice(0, MAX_REASON), at } : undefined;
}

/** A record as this version writes it. */
function current(raw: Record<string, unknown>): RunRecord | null {
  const job = AssignmentSchema.safeParse(raw.job);
  if (!job.success || typeof raw.startedAt !== 'number' || !RunKinds.includes(raw.kind as RunKind)) return null;
  const rec: RunRecord = { kind: raw.kind as RunKind, job: job.data, startedAt: raw.startedAt };
  const k = raw.kill as { reason?: unknown; at?: unknown } | undefined;
  const kill = killOf(k?.reason, k?.at);
  if (kill) rec.kill = kill;
  if (typeof raw.root === 'string' && isCleanAbsolute(raw.root)) rec.root = raw.root;
  if (rec.kind === 'process') {
    const shell = shellOf(raw.shell as Record<string, unknown> | undefined);
    if (!shell) return null;
    rec.shell = shell;
  }
  return rec;
}

/** The previous layout: process.json, or job.json + kill.json. */
function legacy(dir: string): RunRecord | null {
  const proc = readJson(join(dir, LEGACY.process));
  if (proc) {
    const job = AssignmentSchema.safeParse(proc.job);
    const shell = shellOf(proc);
    if (!job.success || typeof proc.startedAt !== 'number' || !shell) return null;
    const kill = killOf(proc.killReason, proc.killAt);
    return { kind: 'process', job: job.data, startedAt: proc.startedAt, shell, ...(kill ? { kill } : {}) };
  }
  const job = AssignmentSchema.safeParse(readJson(join(dir, LEGACY.job)));
  if (!job.success) return null;
  let startedAt = 0;
  try {
    startedAt = statSync(join(dir, LEGACY.job)).mtimeMs;
  } catch {
    // gone meanwhile: the engine's start time is what a container run uses anyway
  }
  const k = readJson(join(dir, LEGACY.kill));
  // A kill record of another lease (an earlier attempt) is not this run's.
  const kill = k?.lease === job.data.lease ? killOf(k.reason, startedAt) : undefined;
  return { kind: 'container', job: job.data, startedAt, ...(kill ? { kill } : {}) };
}

/** The record in `dir`, of this layout or the previous one; null when there is none that reads. */
export function readRunRecord(dir: string): RunRecord | null {
  const raw = readJson(join(dir, RUN_FILE));
  return raw ? current(raw) : legacy(dir);
}

/** The exit status the slot shell wrote, or null. */
export function readExit(dir: string): number | null {
  try {
    const text = readFileSync(join(dir, EXIT_FILE), 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

const RECORD_FILES = new Set<string>([RUN_FILE, `${RUN_FILE}.tmp`, EXIT_FILE, ...Object.values(LEGACY)]);

/** Removes the record (of either layout) and the exit status. */
export function clearRunRecord(dir: string): void {
  // One listing, then only what is there: this runs twice for every job a worker runs.
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const f of names) if (RECORD_FILES.has(f)) rmSync(join(dir, f), { force: true });
}
