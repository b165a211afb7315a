// Process jobs on this worker: the pool of slot shells they run in, their cgroups, /proc
// sampling, the processes earlier jobs left behind, and taking back the ones a previous run
// of this worker started.
import { realpathSync } from 'node:fs';
import type { Clock } from '../common/clock.js';
import type { Assignment } from '../protocol/jobState.js';
import { AdoptedRun } from './adoptedRun.js';
import { CgroupHost } from './cgroup.js';
import type { Execution } from './execution.js';
import { readProcTable, type ProcTable } from './procTable.js';
import { JobRun, subshellOf } from './runner.js';
import { SlotShell } from './slotShell.js';

/** How long after a job ends the sampler keeps looking for processes it left behind. */
const LEFTOVER_MS = 2000;

export interface ProcessSideOptions {
  handle: string;
  basePath: string;
  killGraceMs: number;
  clock: Clock;
}

/**
 * The environment jobs start from: the worker's, less its credentials. (Q_TOKEN has already
 * left it in main.ts; this holds for a Worker made any other way too.)
 */
function jobEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['Q_TOKEN', 'Q_TOKEN_FD']) delete env[k];
  return env;
}

export class ProcessSide {
  private readonly shells: SlotShell[] = [];
  /** Shells whose run has not finished yet (see start). */
  private readonly owned = new Set<SlotShell>();
  private lastJobEnd = 0;
  /** The scratch base with its links resolved (a job's shell checks where it really is). */
  readonly realBase: string;
  /** Where process jobs get cgroups of their own; null: none can be made here (see isolation). */
  private readonly cgroups: CgroupHost | null;
  /** How process jobs are kept apart, for the log and `-w`. */
  readonly isolation: string;

  constructor(private readonly opts: ProcessSideOptions) {
    this.realBase = realpathSync(opts.basePath);
    const cg = CgroupHost.detect(opts.handle);
    this.cgroups = cg instanceof CgroupHost ? cg : null;
    this.isolation = cg instanceof CgroupHost ? cg.describe() : `none: ${cg.problem}`;
  }

  /** One line for the worker's log: how process jobs are kept apart here. */
  describe(): string {
    if (this.cgroups) return `Process jobs run in a ${this.isolation} of their own`;
    return (
      `Process jobs cannot get cgroups here (${this.isolation.replace(/^none: /, '')}): a process that leaves its job's ` +
      'tree and group (setsid) is neither measured nor ended with it'
    );
  }

  /**
   * Process jobs started by a previous run of this worker (it was restarted while they ran),
   * running or finished. Job cgroups of earlier runs go once empty; those of runs found stay.
   */
  adopt(): AdoptedRun[] {
    const found = AdoptedRun.findAll({ basePath: this.opts.basePath, killGraceMs: this.opts.killGraceMs, clock: this.opts.clock, cgroups: this.cgroups });
    const kept = new Set(found.map((r) => r.cgroupName).filter((n) => n !== null));
    this.cgroups?.sweep((name) => kept.has(name));
    return found;
  }

  /** Starts a job in an idle slot shell; `onKill` runs once when it is first asked to die. Throws if it cannot start. */
  start(job: Assignment, onKill?: () => void): JobRun {
    const run = new JobRun(job, this.shell(), {
      basePath: this.opts.basePath,
      realBase: this.realBase,
      cgroups: this.cgroups,
      killGraceMs: this.opts.killGraceMs,
      clock: this.opts.clock,
      onKill,
    });
    // The shell stays this run's until the run is over, even if its subshell has exited: a
    // kill may still be waiting out the grace period before it KILLs the shell's group.
    this.owned.add(run.shell);
    void run.result.then(() => this.owned.delete(run.shell));
    return run;
  }

  /** A job ended (of either kind): the leftover sweep looks a little longer. */
  jobEnded(): void {
    this.lastJobEnd = this.opts.clock.now();
  }

  /** An idle slot shell that no unfinished run still owns, or a new one. */
  private shell(): SlotShell {
    for (let i = this.shells.length - 1; i >= 0; i--) if (!this.shells[i]!.alive) this.shells.splice(i, 1);
    const idle = this.shells.find((s) => !s.busy && !this.owned.has(s));
    if (idle) return idle;
    const fresh = new SlotShell(jobEnv());
    this.shells.push(fresh);
    return fresh;
  }

  /** Measures the runs that live in slot shells from one /proc snapshot, and ends leftovers. */
  sample(runs: readonly Execution[]): void {
    const inShells = runs.filter((r) => r.shell !== null);
    if (inShells.length === 0 && this.opts.clock.now() - this.lastJobEnd > LEFTOVER_MS) return;
    const table = readProcTable();
    for (const run of inShells) run.sample(table);
    this.killLeftovers(table, inShells);
  }

  /**
   * A slot shell's process group holds its current job and whatever earlier jobs left
   * running (`cmd &` without wait). Those have outlived their job: end them. A process is
   * an earlier job's when it was born before the current job's subshell.
   */
  private killLeftovers(table: ProcTable, runs: readonly Execution[]): void {
    for (const shell of this.shells) {
      if (!shell.alive) continue;
      const sub = subshellOf(table, shell.pid);
      if (sub === null && shell.busy) continue; // its job is being forked: not sure yet
      const bornBefore = sub === null ? Infinity : table.get(sub)!.startTicks;
      // A job being killed keeps the processes it had: its kill decides how they end.
      const dying = new Set(runs.find((r) => r.shell === shell)?.processes ?? []);
      for (const p of table.values()) {
        if (p.pgrp !== shell.pid || p.pid === shell.pid || p.startTicks >= bornBefore || dying.has(p.pid)) continue;
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }

  close(): void {
    for (const shell of this.shells) shell.close();
    this.cgroups?.close();
  }
}
