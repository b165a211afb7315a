// A process job this worker started before it was restarted, found again from its record
// (processRecord.ts). Its slot shell lives on in a session of its own, so the job goes on
// running; this follows it until the shell has written the job's exit status (or is gone
// without one), and reports that. The shell is known by pid, start time and boot, never by a
// pid alone, which the system may have given to another process since. It can still be
// killed (TERM, then KILL, to the shell's group, only while that shell is the job's) and its
// time limit still holds. Started in a cgroup, it is also measured, limited and ended through
// that (everything it left behind included); without one, its memory is no longer measured,
// and processes it left in the background are not ended.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import type { CgroupHost, JobCgroup } from './cgroup.js';
import type { Assignment, Result, Stats } from '../protocol/jobState.js';
import type { Execution } from './execution.js';
import { jobFilesDir, OutputFile } from './jobFiles.js';
import { DiskWatch, longTimeout } from './limits.js';
import { readStat } from './procTable.js';
import { bootId, clearRecord, EXIT_FILE, readExit, readRecord, type ProcessRecord } from './processRecord.js';
import { ExitCodes, Reasons } from '../common/outcomes.js';

const POLL_MS = 250;

export interface AdoptEnv {
  basePath: string;
  killGraceMs: number;
  clock: Clock;
  cgroups?: CgroupHost | null;
}

/** Whether the job's slot shell still runs: the same pid, start time and boot (a zombie does not count). */
function shellAlive(rec: ProcessRecord): boolean {
  if (rec.boot !== bootId()) return false;
  const p = readStat(rec.pgid);
  return p !== undefined && p.state !== 'Z' && p.startTicks === rec.shellStart;
}

export class AdoptedRun implements Execution {
  readonly result: Promise<Result>;
  /** Its slot shell belonged to the worker before the restart. */
  readonly shell = null;
  readonly engineLost = null;
  /** Killed through its cgroup or group, not spared by the leftover sweep. */
  readonly processes: readonly number[] = [];
  readonly stdout: OutputFile;
  readonly stderr: OutputFile;
  private exitReason: string | null = null;
  private escalated = false;
  private killTimer: NodeJS.Timeout | null = null;
  private readonly limit: { clear(): void };
  private readonly disk: DiskWatch;
  private ended = false;
  /** Its cgroup, when it was started in one: measured and killed through it. */
  private readonly cg: JobCgroup | null;
  private mem = -1;
  private maxMem = -1;

  private constructor(
    readonly job: Assignment,
    private readonly rec: ProcessRecord,
    private readonly dir: string,
    private readonly env: AdoptEnv,
  ) {
    this.stdout = new OutputFile(join(dir, 'stdout'), 0, undefined, job.logLimit);
    this.stderr = new OutputFile(join(dir, 'stderr'), 0, undefined, job.logLimit);
    this.disk = new DiskWatch(job, env.basePath);
    this.cg = rec.cgroup && env.cgroups ? env.cgroups.find(rec.cgroup) : null;
    this.limit = longTimeout(
      () => this.kill(Reasons.timeLimit(this.elapsed(), job.time)),
      Math.max(0, job.time * 1000 - (env.clock.now() - rec.startedAt)),
    );
    if (rec.killReason !== undefined && rec.killAt !== undefined) {
      // The worker died during a kill's grace period: the job had its TERM, the KILL is due
      // when it was, and the reason stays the one the kill began with.
      this.exitReason = rec.killReason;
      this.killTimer = setTimeout(() => {
        this.escalated = true;
        this.signal('SIGKILL');
      }, Math.max(0, rec.killAt - env.clock.now()));
    }
    this.result = new Promise((resolve) => {
      const poll = setInterval(() => {
        if (readExit(dir) === null && shellAlive(rec)) return this.measure();
        clearInterval(poll);
        void (this.cg?.destroy() ?? Promise.resolve()).then(() => resolve(this.finish()));
      }, POLL_MS);
    });
  }

  /** Every process job of a previous run of this worker that has no result delivered yet. */
  static findAll(env: AdoptEnv): AdoptedRun[] {
    const root = join(env.basePath, '.q', 'jobs');
    let names: string[];
    try {
      names = readdirSync(root);
    } catch {
      return [];
    }
    const found: AdoptedRun[] = [];
    for (const name of names) {
      const dir = jobFilesDir(env.basePath, name);
      const rec = readRecord(dir);
      if (rec && rec.job.handle === name) found.push(new AdoptedRun(rec.job, rec, dir, env));
    }
    return found;
  }

  /** The name of its cgroup, while it has one. */
  get cgroupName(): string | null {
    return this.cg?.name ?? null;
  }

  private elapsed(): number {
    return (this.env.clock.now() - this.rec.startedAt) / 1000;
  }

  private finish(): Result {
    this.ended = true;
    this.limit.clear();
    if (this.killTimer) clearTimeout(this.killTimer);
    const code = readExit(this.dir);
    let realTime = this.elapsed();
    try {
      realTime = (statSync(join(this.dir, EXIT_FILE)).mtimeMs - this.rec.startedAt) / 1000;
    } catch {
      // no exit file: it ended without one
    }
    const base = { realTime, userTime: this.userTime(), maxMem: this.maxMem, maxDisk: this.disk.max };
    if (this.escalated) return { exitCode: ExitCodes.KILLED, exitReason: this.exitReason, ...base };
    if (code === null) {
      return { exitCode: ExitCodes.KILLED, exitReason: this.exitReason ?? 'It ended while its worker was restarting, without an exit status', ...base };
    }
    return { exitCode: code, exitReason: this.exitReason, ...base };
  }

  /** Memory from its cgroup, against the limit (without one it is not measured). */
  /** Its own poll measures it: the worker's /proc snapshot is for runs in a slot shell. */
  sample(): void {}

  private measure(): void {
    const mem = this.cg?.memoryMb() ?? null;
    if (mem === null) return;
    this.mem = mem;
    this.maxMem = Math.max(this.maxMem, mem);
    if (mem > this.job.mem * this.job.memGrace) {
      this.kill(Reasons.memLimit(mem, this.job.mem, this.job.memGrace));
    }
  }

  /** CPU time since it started, from its cgroup; -1 without one. */
  private userTime(): number {
    return this.cg?.userSeconds() ?? -1;
  }

  stats(): Stats {
    return { realTime: this.elapsed(), userTime: this.userTime(), maxMem: this.maxMem, maxDisk: this.disk.max, mem: this.mem };
  }

  async sampleDisk(): Promise<void> {
    if (this.ended) return;
    const over = await this.disk.sample();
    if (over) this.kill(over);
  }

  kill(reason: string): void {
    if (this.ended) return;
    if (this.exitReason === null) {
      this.exitReason = reason;
      this.signal('SIGTERM');
    }
    this.killTimer ??= setTimeout(() => {
      this.escalated = true;
      this.signal('SIGKILL');
    }, this.env.killGraceMs);
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.cg) {
      this.cg.signal(sig); // a cgroup's name is never reused: always the job's (each process once)
      if (sig !== 'SIGKILL') return;
    }
    if (!shellAlive(this.rec)) return; // the group may be someone else's now
    try {
      process.kill(-this.rec.pgid, sig);
    } catch {
      // gone
    }
  }

  dispose(): Promise<void> {
    this.stdout.close();
    this.stderr.close();
    clearRecord(this.dir);
    return Promise.resolve();
  }
}
