// What the worker needs of a running job, whether it is a process in a slot shell (JobRun), one
// taken back after a restart (AdoptedRun) or a Docker container (ContainerRun): the worker
// asks every run the same things and never which kind it is.
import type { Assignment, Result, Stats } from '../protocol/jobState.js';
import type { OutputFile } from './jobFiles.js';
import type { ProcTable } from './procTable.js';
import type { SlotShell } from './slotShell.js';

export interface Execution {
  readonly job: Assignment;
  /** The directory its paths are resolved beneath: its mirror, or `/` (jobFiles.ts jobRoot). */
  readonly root: string;
  /** Resolves once the job has ended, every process of it gone. Never rejects. */
  readonly result: Promise<Result>;
  readonly stdout: OutputFile;
  readonly stderr: OutputFile;
  stats(): Stats;
  /** TERM, then KILL after the grace period. The first reason given is the one reported. */
  kill(reason: string): void;
  /** Measures the outPath and enforces the disk limit. */
  sampleDisk(): Promise<void>;
  /** The slot shell it runs in, which stays its own until the run is over; null if none. */
  readonly shell: SlotShell | null;
  /** The Docker engine went away before or under it: not the job's fault, it is given back. */
  readonly engineLost: { why: string; ran: boolean } | null;
  /** Its processes at the last sample (the worker leaves them to its kill). */
  readonly processes: readonly number[];
  /** Measures it from the worker's /proc snapshot (runs that measure themselves ignore it). */
  sample(table: ProcTable): void;
  /** The master has the result, or took the job away: release what the run holds. */
  dispose(): Promise<void>;
}
