// What a worker keeps on disk about each process job it runs, beside the job's output, so
// that a worker restarted while its jobs run can find them again: the assignment, when it
// started, its slot shell's process group, and (once the shell has run it) its exit status.
// The record goes when the master has the job's result.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssignmentSchema, type Assignment } from '../protocol/jobState.js';

export const RECORD_FILE = 'process.json';
/** Written by the slot shell when the job's subshell exits. */
export const EXIT_FILE = 'exit';

export interface ProcessRecord {
  job: Assignment;
  startedAt: number;
  /** The slot shell's process group: the job's processes are in it. */
  pgid: number;
  /** The shell's start time and the machine's boot: together they tell it from a reused pid. */
  shellStart: number;
  boot: string;
  /** The run's cgroup (cgroup.ts), when it has one; records written before cgroups lack it. */
  cgroup?: string;
  /**
   * A kill the worker began (a limit, or the master's): its reason, and when its KILL is due
   * (ms since the epoch), so that a worker restarted during the grace period carries it on.
   */
  killReason?: string;
  killAt?: number;
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

export function writeRecord(dir: string, rec: ProcessRecord): void {
  writeFileSync(join(dir, RECORD_FILE), JSON.stringify(rec));
}

export function readRecord(dir: string): ProcessRecord | null {
  try {
    const raw = JSON.parse(readFileSync(join(dir, RECORD_FILE), 'utf8')) as Partial<ProcessRecord>;
    const job = AssignmentSchema.safeParse(raw.job);
    if (!job.success || typeof raw.startedAt !== 'number' || typeof raw.pgid !== 'number') return null;
    if (typeof raw.shellStart !== 'number' || typeof raw.boot !== 'string') return null;
    const rec: ProcessRecord = { job: job.data, startedAt: raw.startedAt, pgid: raw.pgid, shellStart: raw.shellStart, boot: raw.boot };
    // Only a run's name (runner.ts runName): never `.` or `..`, which would name the worker's own.
    if (typeof raw.cgroup === 'string' && /^J-\w+-[\w-]+$/.test(raw.cgroup)) rec.cgroup = raw.cgroup;
    if (typeof raw.killReason === 'string' && typeof raw.killAt === 'number') {
      rec.killReason = raw.killReason.slice(0, 1000);
      rec.killAt = raw.killAt;
    }
    return rec;
  } catch {
    return null;
  }
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

export function clearRecord(dir: string): void {
  rmSync(join(dir, RECORD_FILE), { force: true });
  rmSync(join(dir, EXIT_FILE), { force: true });
}
