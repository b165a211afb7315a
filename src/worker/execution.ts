// What the worker needs of a running job, whether it is a process in a slot shell (JobRun) or
// a Docker container (ContainerRun).
import type { Assignment, Result, Stats } from '../protocol/jobState.js';
import type { OutputFile } from './jobFiles.js';

export interface Execution {
  readonly job: Assignment;
  /** Resolves once the job has ended, every process of it gone. Never rejects. */
  readonly result: Promise<Result>;
  readonly stdout: OutputFile;
  readonly stderr: OutputFile;
  stats(): Stats;
  /** TERM, then KILL after the grace period. The first reason given is the one reported. */
  kill(reason: string): void;
  /** Measures the outPath and enforces the disk limit. */
  sampleDisk(): Promise<void>;
  /** The master has the result, or took the job away: release what the run holds. */
  dispose(): Promise<void>;
}
