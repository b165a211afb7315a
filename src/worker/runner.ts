// Runs one job in a slot shell and reports what happened.
//
// A run's life: started in its slot shell → measured each tick (its subshell found in the
// /proc snapshot), killed if over a limit or asked to → exited → result. A kill is TERM to the
// slot's process group, then KILL after the grace period (which also ends the slot shell; the
// worker replaces it). Every result has an exit code: the command's, or 128 + the signal that
// ended it. Output goes to files in the job's directory; `stdout.read` and `stderr.read` hand
// the worker what is new.
import { jobEnv } from '../protocol/jobEnv.js';
import { readFileSync } from 'node:fs';
import type { Clock } from '../common/clock.js';
import type { Assignment, Result, Stats } from '../protocol/jobState.js';
import type { Execution } from './execution.js';
import { expandMirror, jobRel, jobRoot, makeJobDirs, mirrorRoot, OutputFile, prepareJobFiles } from './jobFiles.js';
import { KillSequence } from './killSequence.js';
import { RunLimits } from './limits.js';
import { bootId, clearRunRecord, EXIT_FILE, writeRunRecord, type RunRecord } from './runRecord.js';
import { join } from 'node:path';
import { processTree, readStat, TICKS_PER_SECOND, type ProcInfo, type ProcTable } from './procTable.js';
import type { ShellExit, SlotShell } from './slotShell.js';
import type { CgroupHost, JobCgroup } from './cgroup.js';
import { ExitCodes } from '../common/outcomes.js';

export interface RunEnv {
  basePath: string;
  /** basePath with its links resolved. */
  realBase: string;
  killGraceMs: number;
  clock: Clock;
  /** Called once, when the job is first asked to die (e.g. to stop a container it started). */
  onKill?: () => void;
  /** Where job cgroups are made; null: none can be (the job is then known by tree and group). */
  cgroups?: CgroupHost | null;
}

const KILL_CODE = ExitCodes.KILLED;

/** A run's name, for its cgroup: a job given again under a new lease gets a new one. */
export function runName(job: Pick<Assignment, 'handle' | 'lease'>): string {
  return `${job.handle}-${job.lease}`;
}

/**
 * A job's processes: its subshell's descendants, plus processes in the slot's group born
 * since the subshell (ones it daemonised, which left its tree but not its group).
 */
export function jobProcesses(table: ProcTable, shellPid: number, subPid: number): ProcInfo[] {
  const sub = table.get(subPid);
  if (!sub) return [];
  const tree = processTree(table, subPid);
  const ids = new Set(tree.map((p) => p.pid));
  for (const p of table.values()) {
    if (p.pgrp === shellPid && p.pid !== shellPid && p.startTicks >= sub.startTicks && !ids.has(p.pid)) tree.push(p);
  }
  return tree;
}

/** Whether a process has a child (cheaper than a /proc scan). */
function hasChild(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

/** While a job runs, its subshell is its slot shell's only child. */
export function subshellOf(table: ProcTable, shellPid: number): number | null {
  for (const p of table.values()) if (p.ppid === shellPid) return p.pid;
  return null;
}

/** Alive and not a zombie. */
function isRunning(pid: number): boolean {
  const info = readStat(pid);
  return info !== undefined && info.state !== 'Z';
}

export class JobRun implements Execution {
  readonly startedAt: number;
  readonly result: Promise<Result>;
  /** The job's subshell, once a /proc sample has seen it. */
  pid: number | null = null;
  /** What is on disk about this run (runRecord.ts), kept to be written again with a kill. */
  private record: RunRecord;
  private readonly kills: KillSequence;
  private readonly limits: RunLimits;
  /** A TERM waiting for the slot shell to fork the job. */
  private termTimer: NodeJS.Timeout | null = null;
  private exited = false;
  private maxMem = -1;
  private userTime = 0;
  private tree: number[] = [];
  private mem = -1;
  private readonly filesDir: string;
  /** The job's processes are the ones in it, wherever they went (cgroup.ts). */
  private readonly cg: JobCgroup | null;
  readonly engineLost = null;
  readonly root: string;
  readonly stdout: OutputFile;
  readonly stderr: OutputFile;

  constructor(
    readonly job: Assignment,
    readonly shell: SlotShell,
    private readonly env: RunEnv,
  ) {
    makeJobDirs(job, env.basePath);
    const files = prepareJobFiles(env.basePath, job.handle, { fresh: true });
    this.filesDir = files.dir;
    clearRunRecord(files.dir);
    this.stdout = new OutputFile(files.stdout, 0, undefined, job.logLimit);
    this.stderr = new OutputFile(files.stderr, 0, undefined, job.logLimit);
    this.kills = new KillSequence(env.killGraceMs, env.clock, {
      term: () => this.term(),
      kill: () => this.killNow(),
      began: (reason, killAt) => this.began(reason, killAt),
    });
    this.root = jobRoot(job, env.basePath);
    this.limits = new RunLimits(job, this.root, () => this.elapsed(), (reason) => this.kill(reason));
    const command = expandMirror(job.command, env.basePath);
    this.startedAt = env.clock.now();
    this.cg = env.cgroups ? env.cgroups.create(runName(job)) : null;
    // Before the timer: if this throws (disk full), no timer is left to kill a later job.
    this.record = {
      kind: 'process',
      job,
      startedAt: this.startedAt,
      root: this.root,
      shell: { pgid: shell.pid, shellStart: shell.startTicks, boot: bootId(), ...(this.cg ? { cgroup: this.cg.name } : {}) },
    };
    try {
      writeRunRecord(files.dir, this.record);
    } catch (e) {
      void this.cg?.destroy();
      throw e;
    }
    this.limits.armTime(0);
    const exit = shell.run({
      handle: job.handle,
      env: jobEnv(job),
      // The shell changes into it by its physical path and checks it got there: a link
      // swapped in since it was made here would take it elsewhere.
      cwd: join(job.shareWorkingPath ? '/' : mirrorRoot(env.realBase), jobRel(job.workingPath)),
      command,
      stdoutPath: this.stdout.path,
      stderrPath: this.stderr.path,
      exitPath: join(files.dir, EXIT_FILE),
      ...(this.cg ? { cgroupJoin: this.cg.joinFiles } : {}),
    });
    this.result = exit.then(async (e) => {
      // A kill is over when the whole tree is gone, not when its shell is: processes that
      // outlive TERM get the KILL, and the job reports it.
      const escalation = this.kills.escalation;
      if (escalation) await Promise.race([escalation, this.treeGone(e)]);
      if (this.cg) {
        // What it left running (daemons, `setsid` children) ends with it, as under Slurm.
        this.userTime = Math.max(this.userTime, this.cg.userSeconds() ?? 0);
        await this.cg.destroy();
      }
      return this.finish('code' in e ? e.code : KILL_CODE, 'died' in e);
    });
  }

  private elapsed(): number {
    return (this.env.clock.now() - this.startedAt) / 1000;
  }

  /** The job's processes at the last sample (its subshell and descendants). */
  get processes(): readonly number[] {
    return this.tree;
  }

  stats(): Stats {
    return { realTime: this.elapsed(), userTime: this.userTime, maxMem: this.maxMem, maxDisk: this.limits.maxDisk, mem: this.mem };
  }

  /** Measures the job (its cgroup, else its tree in a /proc snapshot) and enforces the memory limit. */
  sample(table: ProcTable): void {
    if (this.exited) return;
    this.pid ??= subshellOf(table, this.shell.pid);
    if (this.pid === null && !this.cg) return;
    const tree = this.cg
      ? this.cg.pids().flatMap((pid) => table.get(pid) ?? [])
      : jobProcesses(table, this.shell.pid, this.pid!);
    if (tree.length === 0) return;
    this.tree = tree.map((p) => p.pid);
    const mem = this.cg?.memoryMb() ?? tree.reduce((s, p) => s + p.rssBytes, 0) / 1048576;
    const user = this.cg?.userSeconds() ?? tree.reduce((s, p) => s + p.userTicks + p.childUserTicks, 0) / TICKS_PER_SECOND;
    this.mem = mem;
    this.maxMem = Math.max(this.maxMem, mem);
    this.userTime = Math.max(this.userTime, user);
    this.limits.checkMemory(mem);
  }

  /** Measures the job's outPath (under the scratch base) and enforces the disk limit. */
  sampleDisk(): Promise<void> {
    return this.limits.sampleDisk();
  }

  dispose(): Promise<void> {
    this.stdout.close();
    this.stderr.close();
    clearRunRecord(this.filesDir);
    return Promise.resolve();
  }

  kill(reason: string): void {
    this.kills.kill(reason);
  }

  private began(reason: string, killAt: number): void {
    this.record = { ...this.record, kill: { reason, at: killAt } };
    try {
      writeRunRecord(this.filesDir, this.record);
    } catch {
      // without it, a worker restarted in the grace period reports the exit code alone
    }
    this.env.onKill?.();
  }

  private term(): void {
    if (hasChild(this.shell.pid)) return this.signal('SIGTERM');
    // The slot shell has not forked the job yet: a TERM now would be lost (the shell
    // ignores it), so it goes out as soon as the job's subshell exists. Once only: a
    // job's own TERM handler must be left to clean up.
    this.termTimer = setInterval(() => {
      if (!hasChild(this.shell.pid) && this.shell.busy) return;
      clearInterval(this.termTimer!);
      this.signal('SIGTERM');
    }, 20);
  }

  private killNow(): boolean {
    if (this.termTimer) clearInterval(this.termTimer);
    this.signal('SIGKILL');
    return true;
  }

  /** Resolves once no process of the job is left (zombies do not count). */
  private async treeGone(e: ShellExit): Promise<void> {
    if (this.cg) {
      for (let i = 0; i < 1000 && !this.cg.empty(); i++) await new Promise((r) => setTimeout(r, 20));
      return;
    }
    const others = this.tree.filter((pid) => !(pid === this.pid && 'code' in e));
    for (let i = 0; i < 1000 && others.some(isRunning); i++) await new Promise((r) => setTimeout(r, 20));
  }

  private signal(sig: NodeJS.Signals): void {
    // In a cgroup: every process in it, each once (a TERM twice would break a job's own
    // cleanup); its slot shell is not in it. KILL also goes to the slot's group, as without
    // a cgroup: the slot shell dies and a fresh one takes the slot.
    if (this.cg) {
      this.cg.signal(sig);
      if (sig !== 'SIGKILL') return;
    }
    // Without one: the slot's group (its shell ignores TERM), plus descendants that left it.
    if (sig === 'SIGKILL') this.shell.retire();
    for (const target of [-this.shell.pid, ...this.tree]) {
      try {
        process.kill(target, sig);
      } catch {
        // already gone
      }
    }
  }

  private finish(code: number, shellDied: boolean): Result {
    this.kills.end();
    this.limits.end();
    if (this.termTimer) clearInterval(this.termTimer);
    this.exited = true;
    const escalated = this.kills.escalated;
    const reason = this.kills.reason ?? (shellDied && !escalated ? 'The job ended its own shell' : null);
    return {
      exitCode: escalated ? KILL_CODE : code,
      exitReason: reason,
      realTime: this.elapsed(),
      userTime: this.userTime,
      maxMem: this.maxMem,
      maxDisk: this.limits.maxDisk,
    };
  }
}
