// Runs one job as a process tree and reports what happened.
//
// A run's life: spawned → (measured each tick; killed if over a limit or asked to) → exited
// → leftovers of its process group killed → result. The command runs as
// `cd WORKDIR && (COMMAND)` under /bin/sh in a process group of its own, so a kill reaches
// everything it started. A kill is TERM to the group, then KILL after the grace period.
// Every result has an exit code: the command's, or 128 + the signal that ended it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import { formatSize, formatTime } from '../common/units.js';
import type { Assignment, Result, Stats } from '../protocol/messages.js';
import { diskUsageMb } from './diskUsage.js';
import { processTree, TICKS_PER_SECOND, type ProcTable } from './procTable.js';

export interface RunEnv {
  basePath: string;
  killGraceMs: number;
  clock: Clock;
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Where the job runs: the submitter's directory, or its mirror under the scratch base. */
export function workDir(job: Assignment, basePath: string): string {
  return job.shareWorkingPath ? job.workingPath : join(basePath, job.workingPath);
}

export function jobFilesDir(basePath: string, handle: string): string {
  return join(basePath, '.q', 'jobs', handle);
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (constants.signals[signal] ?? 9) : 0;
}

export class JobRun {
  readonly startedAt: number;
  readonly result: Promise<Result>;
  private child: ChildProcess;
  private exitReason: string | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private leftoverTimer: NodeJS.Timeout | null = null;
  private limitTimer: NodeJS.Timeout;
  private exited = false;
  private escalated = false;
  private maxMem = -1;
  private maxDisk = -1;
  private userTime = 0;
  private lastTree: number[] = [];
  private diskBusy = false;
  private readonly out: WriteStream;
  private readonly err: WriteStream;

  constructor(
    readonly job: Assignment,
    private readonly env: RunEnv,
  ) {
    const cwd = workDir(job, env.basePath);
    const files = jobFilesDir(env.basePath, job.handle);
    mkdirSync(cwd, { recursive: true });
    mkdirSync(files, { recursive: true });
    this.out = createWriteStream(join(files, 'stdout'));
    this.err = createWriteStream(join(files, 'stderr'));
    const command = job.command.split('///').join(env.basePath.replace(/\/*$/, '/'));
    this.startedAt = env.clock.now();
    this.child = spawn('/bin/sh', ['-c', `cd ${shellQuote(cwd)} && (${command})`], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, Q_JOB_HANDLE: job.handle },
    });
    this.child.stdout!.on('data', (c: Buffer) => this.output('stdout', c));
    this.child.stderr!.on('data', (c: Buffer) => this.output('stderr', c));
    this.limitTimer = setTimeout(
      () => this.kill(`Time limit exceeded: ran ${this.elapsed().toFixed(1)}s, limit ${formatTime(job.time)}`),
      job.time * 1000,
    );
    this.result = new Promise((resolve) => {
      this.child.once('error', (e) => {
        this.exitReason ??= `Could not start: ${e.message}`;
      });
      this.child.once('close', (code, signal) => void this.finish(code, signal).then(resolve));
      this.child.once('exit', () => {
        this.exited = true;
        // Output pipes held open by a leftover background process must not keep the job
        // alive. During a kill, the grace period already decides when KILL comes.
        if (!this.killTimer) this.leftoverTimer = setTimeout(() => this.signalGroup('SIGKILL'), 1000);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    (stream === 'stdout' ? this.out : this.err).write(chunk);
    this.env.onOutput(stream, chunk);
  }

  private elapsed(): number {
    return (this.env.clock.now() - this.startedAt) / 1000;
  }

  stats(): Stats {
    return { realTime: this.elapsed(), userTime: this.userTime, maxMem: this.maxMem, maxDisk: this.maxDisk };
  }

  /** Measures the tree from a /proc snapshot and enforces the memory limit. */
  sample(table: ProcTable): void {
    const pid = this.child.pid;
    if (!pid || this.exited) return;
    const tree = processTree(table, pid);
    if (tree.length === 0) return;
    this.lastTree = tree.map((p) => p.pid);
    const mem = tree.reduce((s, p) => s + p.rssBytes, 0) / 1048576;
    const user = tree.reduce((s, p) => s + p.userTicks + p.childUserTicks, 0) / TICKS_PER_SECOND;
    this.maxMem = Math.max(this.maxMem, mem);
    this.userTime = Math.max(this.userTime, user);
    const limit = this.job.mem * this.job.memGrace;
    if (mem > limit) {
      this.kill(
        `Memory limit exceeded: used ${formatSize(mem)}, limit ${formatSize(this.job.mem)} * ${this.job.memGrace}`,
      );
    }
  }

  /** Measures the job's outPath (under the scratch base) and enforces the disk limit. */
  async sampleDisk(): Promise<void> {
    if (this.diskBusy || this.exited || !this.job.outPath) return;
    this.diskBusy = true;
    try {
      const dir = this.job.shareWorkingPath ? this.job.outPath : join(this.env.basePath, this.job.outPath);
      const mb = await diskUsageMb(dir);
      this.maxDisk = Math.max(this.maxDisk, mb);
      if (mb > this.job.disk) {
        this.kill(`Disk limit exceeded: outPath holds ${formatSize(mb)}, limit ${formatSize(this.job.disk)}`);
      }
    } finally {
      this.diskBusy = false;
    }
  }

  /** TERM now, KILL after the grace period. The first reason given is the one reported. */
  kill(reason: string): void {
    if (this.exited) return;
    this.exitReason ??= reason;
    this.signalGroup('SIGTERM');
    this.killTimer ??= setTimeout(() => {
      // Something outlived TERM: the job ended by KILL, whatever its shell said.
      if (this.signalGroup('SIGKILL')) this.escalated = true;
    }, this.env.killGraceMs);
  }

  /** True when some process of the job was still there to receive the signal. */
  private signalGroup(signal: NodeJS.Signals): boolean {
    const pid = this.child.pid;
    if (!pid) return false;
    let reached = false;
    for (const target of [-pid, ...this.lastTree]) {
      try {
        process.kill(target, signal);
        reached = true;
      } catch {
        // already gone
      }
    }
    return reached;
  }

  private async finish(code: number | null, signal: NodeJS.Signals | null): Promise<Result> {
    clearTimeout(this.limitTimer);
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.leftoverTimer) clearTimeout(this.leftoverTimer);
    this.exited = true;
    this.signalGroup('SIGKILL');
    await Promise.all([
      new Promise((r) => this.out.end(r)),
      new Promise((r) => this.err.end(r)),
    ]);
    return {
      exitCode: this.escalated ? 128 + signalNumber('SIGKILL') : (code ?? 128 + signalNumber(signal)),
      exitReason: this.exitReason,
      realTime: this.elapsed(),
      userTime: this.userTime,
      maxMem: this.maxMem,
      maxDisk: this.maxDisk,
    };
  }
}
