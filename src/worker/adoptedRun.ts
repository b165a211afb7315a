// A process job this worker started before it was restarted, found again from its record
// (runRecord.ts). Its slot shell lives on in a session of its own, so the job goes on
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
import { jobFilesDir, OutputFile, runRoot } from './jobFiles.js';
import { KillSequence } from './killSequence.js';
import { RunLimits } from './limits.js';
import { readStat } from './procTable.js';
import { bootId, clearRunRecord, EXIT_FILE, readExit, readRunRecord, writeRunRecord, type RunRecord, type ShellRef } from './runRecord.js';
import { ExitCodes } from '../common/outcomes.js';

const POLL_MS = 250;

export interface AdoptEnv {
  basePath: string;
  killGraceMs: number;
  clock: Clock;
  cgroups?: CgroupHost | null;
}

/** Whether the job's slot shell still runs: the same pid, start time and boot (a zombie does not count). */
function shellAlive(shell: ShellRef): boolean {
  if (shell.boot !== bootId()) return false;
  const p = readStat(shell.pgid);
  return p !== undefined && p.state !== 'Z' && p.startTicks === shell.shellStart;
}

export class AdoptedRun implements Execution {
  readonly result: Promise<Result>;
  /** Its slot shell belonged to the worker before the restart. */
  readonly shell = null;
  readonly engineLost = null;
  readonly root: string;
  /** Killed through its cgroup or group, not spared by the leftover sweep. */
  readonly processes: readonly number[] = [];
  readonly stdout: OutputFile;
  readonly stderr: OutputFile;
  private readonly kills: KillSequence;
  private readonly limits: RunLimits;
  /** What is on disk about it, written again when a kill begins. */
  private rec: RunRecord;
  private readonly shellRef: ShellRef;
  /** Its cgroup, when it was started in one: measured and killed through it. */
  private readonly cg: JobCgroup | null;
  private mem = -1;
  private maxMem = -1;

  private constructor(
    readonly job: Assignment,
    rec: RunRecord & { shell: ShellRef },
    private readonly dir: string,
    private readonly env: AdoptEnv,
  ) {
    this.stdout = new OutputFile(join(dir, 'stdout'), 0, undefined, job.logLimit);
    this.stderr = new OutputFile(join(dir, 'stderr'), 0, undefined, job.logLimit);
    this.rec = rec;
    this.shellRef = rec.shell;
    this.cg = rec.shell.cgroup && env.cgroups ? env.cgroups.find(rec.shell.cgroup) : null;
    this.kills = new KillSequence(env.killGraceMs, env.clock, {
      term: () => this.signal('SIGTERM'),
      kill: () => {
        this.signal('SIGKILL');
        return true;
      },
      began: (reason, killAt) => {
        this.rec = { ...this.rec, kill: { reason, at: killAt } };
        try {
          writeRunRecord(dir, this.rec);
        } catch {
          // without it, a worker restarted again in the grace period reports the exit code alone
        }
      },
    });
    this.root = runRoot(rec, env.basePath);
    this.limits = new RunLimits(job, this.root, () => this.elapsed(), (reason) => this.kill(reason));
    // One that ended while the worker was away is past no limit (a worker down for longer than
    // the job's -time must not report that it ran over), and a kill it began stays the reason.
    if (readExit(dir) !== null || !shellAlive(rec.shell)) this.kills.keep(rec.kill?.reason ?? null);
    else {
      this.limits.armTime(env.clock.now() - rec.startedAt);
      // The worker died during a kill's grace period: the job had its TERM, the KILL is due
      // when it was, and the reason stays the one the kill began with.
      if (rec.kill) this.kills.resume(rec.kill.reason, rec.kill.at);
    }
    this.result = new Promise((resolve) => {
      const poll = setInterval(() => {
        if (readExit(dir) === null && shellAlive(rec.shell)) return this.measure();
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
      const rec = readRunRecord(dir);
      if (rec?.kind === 'process' && rec.shell && rec.job.handle === name) found.push(new AdoptedRun(rec.job, { ...rec, shell: rec.shell }, dir, env));
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
    this.kills.end();
    this.limits.end();
    const code = readExit(this.dir);
    let realTime = this.elapsed();
    try {
      realTime = (statSync(join(this.dir, EXIT_FILE)).mtimeMs - this.rec.startedAt) / 1000;
    } catch {
      // no exit file: it ended without one
    }
    const base = { realTime, userTime: this.userTime(), maxMem: this.maxMem, maxDisk: this.limits.maxDisk };
    const reason = this.kills.reason;
    if (this.kills.escalated) return { exitCode: ExitCodes.KILLED, exitReason: reason, ...base };
    if (code === null) {
      return { exitCode: ExitCodes.KILLED, exitReason: reason ?? 'It ended while its worker was restarting, without an exit status', ...base };
    }
    return { exitCode: code, exitReason: reason, ...base };
  }

  /** Memory from its cgroup, against the limit (without one it is not measured). */
  /** Its own poll measures it: the worker's /proc snapshot is for runs in a slot shell. */
  sample(): void {}

  private measure(): void {
    const mem = this.cg?.memoryMb() ?? null;
    if (mem === null) return;
    this.mem = mem;
    this.maxMem = Math.max(this.maxMem, mem);
    this.limits.checkMemory(mem);
  }

  /** CPU time since it started, from its cgroup; -1 without one. */
  private userTime(): number {
    return this.cg?.userSeconds() ?? -1;
  }

  stats(): Stats {
    return { realTime: this.elapsed(), userTime: this.userTime(), maxMem: this.maxMem, maxDisk: this.limits.maxDisk, mem: this.mem };
  }

  sampleDisk(): Promise<void> {
    return this.limits.sampleDisk();
  }

  kill(reason: string): void {
    this.kills.kill(reason);
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.cg) {
      this.cg.signal(sig); // a cgroup's name is never reused: always the job's (each process once)
      if (sig !== 'SIGKILL') return;
    }
    if (!shellAlive(this.shellRef)) return; // the group may be someone else's now
    try {
      process.kill(-this.shellRef.pgid, sig);
    } catch {
      // gone
    }
  }

  dispose(): Promise<void> {
    this.stdout.close();
    this.stderr.close();
    clearRunRecord(this.dir);
    return Promise.resolve();
  }
}
