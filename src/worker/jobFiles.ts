// Where a job lives on its worker: the directory it runs in, and BASE/.q/jobs/HANDLE holding
// its stdout and stderr, which the worker reads from while the job writes.
//
// The scratch base holds two trees side by side: `.q`, the worker's own records, and
// `mirror`, the root under which the submitters' directories are mirrored (a job at `/` runs
// in BASE/mirror). Nothing a job can name through the mirror reaches the records: a job at
// the mirror's root sees only what the jobs of this worker mirrored (fig's q shared those
// too), never another job's output copies or run records.
import { spawn } from 'node:child_process';
import { chownSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { logKeeps } from '../common/logLimit.js';
import { openDirBeneath } from '../files/beneath.js';
import { isCleanAbsolute, isInside } from '../files/paths.js';
import type { Assignment } from '../protocol/jobState.js';
import { readRunRecord, type RunRecord } from './runRecord.js';
import { HANDLE_PATTERN } from '../protocol/fields.js';

/** The worker's own records, under the scratch base. */
export const RECORDS_DIR = '.q';
/** The root of the mirrored directories, under the scratch base. */
export const MIRROR_DIR = 'mirror';

/** Where the submitters' directories are mirrored on this worker. */
export function mirrorRoot(basePath: string): string {
  return join(basePath, MIRROR_DIR);
}

/**
 * The directory every path of a job is resolved beneath: the mirror when the job's
 * directories are mirrored, `/` when the job shares the submitter's file system.
 */
export function jobRoot(job: Pick<Assignment, 'shareWorkingPath'>, basePath: string): string {
  return job.shareWorkingPath ? '/' : mirrorRoot(basePath);
}

/**
 * Where the paths of a recorded run are resolved: as recorded, or, for a record of a version
 * that mirrored at the scratch base itself, there (its run keeps the places it started with).
 */
export function runRoot(rec: Pick<RunRecord, 'job' | 'root'>, basePath: string): string {
  return rec.root ?? (rec.job.shareWorkingPath ? '/' : basePath);
}

/** A command with fig's `///` (the mirror's root) expanded to this worker's mirror. */
export function expandMirror(command: string, basePath: string): string {
  return command.split('///').join(`${mirrorRoot(basePath)}/`);
}

/** A path of the job (absolute on the submitter's side) relative to its root. */
export function jobRel(path: string): string {
  if (!isCleanAbsolute(path)) throw new Error(`${path} is not a clean absolute path`);
  return path.slice(1);
}

/**
 * Throws when a path of the job cannot be placed on this worker: not clean, or, for a job
 * sharing the file system, inside the worker's own records (`bases`: the scratch base as
 * given and as it really is); containerRun.ts also keeps them out of mounts.
 */
export function checkJobPaths(job: Assignment, bases: string[]): void {
  for (const p of [job.workingPath, job.outPath, job.cidFile, ...job.inPaths, ...job.realtimeInPaths]) {
    if (!p) continue;
    jobRel(p);
    if (job.shareWorkingPath && bases.some((b) => isInside(p, join(b, RECORDS_DIR)))) {
      throw new Error(`${p} holds this worker's own records: run the job somewhere else`);
    }
  }
}

/** Where the job runs: the submitter's directory, or its mirror under the scratch base. */
export function workDir(job: Assignment, basePath: string): string {
  return join(jobRoot(job, basePath), job.workingPath);
}

/** The job's outPath as this worker sees it, or null. */
export function outDir(job: Assignment, basePath: string): string | null {
  if (!job.outPath) return null;
  return join(jobRoot(job, basePath), job.outPath);
}

/**
 * Makes the job's working directory and outPath (as the old q did: the job may write into
 * its outPath at once), refusing any link on the way (a job may have planted one). What is
 * used later is opened through no link again (a shell's `cd -P`, pinnedMounts.ts). With
 * `owner`, directories this worker mirrored are given to that user.
 */
export function makeJobDirs(job: Assignment, basePath: string, owner: [number, number] | null = null): void {
  const root = jobRoot(job, basePath);
  if (!job.shareWorkingPath) mkdirSync(root, { recursive: true });
  for (const path of [job.workingPath, job.outPath]) {
    if (!path) continue;
    const dir = openDirBeneath(root, jobRel(path), { create: true });
    try {
      // Only what this worker made for the job: a shared working path stays as it is.
      if (owner && !job.shareWorkingPath) chownSync(dir.child('.'), owner[0], owner[1]);
    } finally {
      dir.close();
    }
  }
}

export function jobFilesDir(basePath: string, handle: string): string {
  return join(basePath, RECORDS_DIR, 'jobs', handle);
}

/** A job's files here (its output copies and run record), once nothing of it is left to send. */
export function removeJobFiles(basePath: string, handle: string): void {
  rmSync(jobFilesDir(basePath, handle), { recursive: true, force: true });
}

/** Directories removed per turn by the start-up sweep. */
const SWEEP_BATCH = 200;

/**
 * Removes the files of jobs this worker no longer holds (`held` says which it does), a batch a
 * turn: what an earlier version, which kept every job's files, left behind. A directory with
 * a run record is kept (its run is taken back, or its container's record is its own).
 */
export function sweepJobFiles(basePath: string, held: (handle: string) => boolean): void {
  const root = join(basePath, RECORDS_DIR, 'jobs');
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  const step = () => {
    for (const name of names.splice(0, SWEEP_BATCH)) {
      if (!HANDLE_PATTERN.test(name) || held(name) || readRunRecord(join(root, name)) !== null) continue;
      rmSync(join(root, name), { recursive: true, force: true });
    }
    if (names.length) setImmediate(step);
  };
  setImmediate(step);
}

export interface JobFiles {
  dir: string;
  stdout: string;
  stderr: string;
}

/**
 * Makes the job's files directory. A fresh run (not a re-attach) starts with empty output,
 * since a rerun on the same worker reuses the directory. With `create`, the output files
 * exist on return (a container mounts them), owned by `owner` when given (a container user
 * other than the worker's).
 */
export function prepareJobFiles(
  basePath: string,
  handle: string,
  opts: { fresh: boolean; create?: boolean; owner?: [number, number] | null },
): JobFiles {
  const dir = jobFilesDir(basePath, handle);
  mkdirSync(dirname(dir), { recursive: true });
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    if (opts.fresh) {
      rmSync(join(dir, 'stdout'), { force: true });
      rmSync(join(dir, 'stderr'), { force: true });
    }
  }
  const files = { dir, stdout: join(dir, 'stdout'), stderr: join(dir, 'stderr') };
  if (opts.create) {
    for (const f of [files.stdout, files.stderr]) {
      closeSync(openSync(f, 'a'));
      if (opts.owner) chownSync(f, opts.owner[0], opts.owner[1]);
    }
  }
  return files;
}

const READ_CHUNK = 256 * 1024;

/** One read buffer for every job: output is copied out of it before the next read. */
const readBuf = Buffer.allocUnsafe(READ_CHUNK);

/**
 * Bytes behind the read position never freed, so that output a master lost in a crash can be
 * sent again from its copy here: far more than the worker lets wait in its socket (8 MB).
 */
const RESEND_MARGIN = 32 * 1024 * 1024;
/** Disk is freed in steps of at least this much (each is one `fallocate` process). */
const PUNCH_STEP = 1024 * 1024;

/**
 * A file a job appends to, read from where the last read stopped. Opened without following
 * links and only if it is a regular file: the worker reads with more rights than the job,
 * and must not block on a pipe put in the file's place.
 *
 * Held to the job's -logLimit: the master keeps only the first and last halves, so the
 * middle of this copy, once sent, is freed by punching holes in it (the file keeps its size
 * and offsets; the job's appends go on as before). Never the head, never the last half-limit
 * (the master's tail), never within RESEND_MARGIN of what was read.
 */
export class OutputFile {
  private fd: number | null = null;
  private readonly keeps: { head: number; tail: number; behind: number } | null;
  private freedTo = 0;
  private punching = false;

  /**
   * @param pos where reading starts (after a re-attach: what was already sent)
   * @param onAdvance called after each read that returned data
   * @param logLimitMb the job's -logLimit
   */
  constructor(
    readonly path: string,
    public pos = 0,
    private readonly onAdvance?: () => void,
    logLimitMb?: number,
  ) {
    if (logLimitMb === undefined) this.keeps = null;
    else {
      const { head, tail } = logKeeps(logLimitMb);
      this.keeps = { head, tail, behind: Math.max(tail, RESEND_MARGIN) };
      this.freedTo = head;
    }
  }

  /** Frees what of the sent middle can go (in the background, one step at a time). */
  private freeMiddle(): void {
    const fd = this.fd;
    if (!this.keeps || this.punching || fd === null) return;
    const to = this.pos - this.keeps.behind;
    if (to - this.freedTo < PUNCH_STEP) return;
    this.punching = true;
    const from = this.freedTo;
    // Node has no fallocate(2). The file goes to the child as its stdin, so the child reopens
    // the very file this worker opened without following links, not whatever the path names now.
    const child = spawn('fallocate', ['--punch-hole', '--offset', String(from), '--length', String(to - from), '/dev/stdin'], {
      stdio: [fd, 'ignore', 'ignore'],
    });
    child.on('error', () => (this.punching = true)); // no fallocate here: the copy stays whole
    child.on('exit', (code) => {
      if (code === 0) {
        this.freedTo = to;
        this.punching = false;
      }
      // else: a file system that cannot punch holes; the copy stays whole
    });
  }

  /**
   * Moves the read position over what the master would drop anyway: a byte past the log's
   * head with a whole tail's worth written after it is in neither half, whatever the other
   * stream holds. So a job that makes its stdout a terabyte of holes (`truncate -s 1T
   * /proc/self/fd/1`) costs a jump, not a terabyte read and sent. Returns the bytes skipped.
   */
  private skipDropped(fd: number): number {
    if (!this.keeps || this.pos < this.keeps.head) return 0;
    let size: number;
    try {
      size = fstatSync(fd).size;
    } catch {
      return 0;
    }
    const to = size - this.keeps.tail;
    if (to <= this.pos) return 0;
    const skipped = to - this.pos;
    this.pos = to;
    return skipped;
  }

  /** What was written since the last call (at most `max` bytes), from `pos` as it is after the call less its length. */
  read(max: number): Buffer | null {
    if (this.fd === null) {
      try {
        const fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        if (!fstatSync(fd).isFile()) {
          closeSync(fd);
          return null;
        }
        this.fd = fd;
      } catch {
        return null; // the job has not created it yet (or made it a link)
      }
    }
    const skipped = this.skipDropped(this.fd);
    const parts: Buffer[] = [];
    let total = 0;
    try {
      while (total < max) {
        const n = readSync(this.fd, readBuf, 0, Math.min(READ_CHUNK, max - total), this.pos);
        if (n <= 0) break;
        parts.push(Buffer.from(readBuf.subarray(0, n)));
        this.pos += n;
        total += n;
      }
    } catch {
      // an I/O error: what was read is sent, the rest is tried again next time
    }
    this.freeMiddle();
    if (total === 0 && skipped === 0) return null;
    try {
      this.onAdvance?.();
    } catch {
      // a record of progress that cannot be written (disk full) must not end the worker
    }
    return Buffer.concat(parts);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
