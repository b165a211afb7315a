// One job this worker holds, from its assignment until the master has its result (or took it
// away). Jobs are keyed by lease, not handle: after a partition the master may give a job
// back under a new lease while the old copy is still dying.
//
//   assign ──▶ waiting ──▶ staging ──▶ running ──▶ delivering ──resultAck──▶ gone
//      │          │  (old copy   │  (inputs    │  (output    ▲ (result held, sent
//      └──────────┴──▶ gone)     └─▶ ready) ───┘   streams)  │  again after a reconnect)
//      └─────────────────────────────────────────────────────┘ ended without a run
//                                                              (placed wrong, killed waiting)
//   taken back after a restart ──▶ running
//   any phase ──drop──▶ dropped ──(its run or staging has ended)──▶ gone
//
// waiting:    behind an old copy of the same job (they share its files); starts when that
//             one is gone, if still wanted.
// staging:    fetching its inputs from the master.
// running:    its run (process or container) is under way.
// delivering: ended; the result waits until every byte of output and every outFile is on the
//             master, then goes out, and again after each reconnect until acknowledged.
// dropped:    the master took it away (lease gone, or given again under a new lease): nothing
//             more is sent about it; a run still under way is killed and is gone once it ends.
// gone:       forgotten; its run's records are cleaned up.
//
// A kill that comes before there is a run (waiting, staging) is kept, and the job ends with it
// instead of starting.
import type { Assignment, Result } from '../protocol/jobState.js';
import type { Execution } from './execution.js';
import type { OutSync } from './files/outSync.js';
import type { Stager } from './files/stager.js';

export const Phases = {
  waiting: 'waiting',
  staging: 'staging',
  running: 'running',
  delivering: 'delivering',
  dropped: 'dropped',
  gone: 'gone',
} as const;
export type Phase = (typeof Phases)[keyof typeof Phases];

export class HeldJob {
  private current: Phase;
  /** Fetching its inputs (staging only). */
  private stagerOf: Stager | null = null;
  /** Its run while it runs (also while a dropped one dies). */
  private runOf: Execution | null = null;
  /** The run whose output is still to be sent, until the result is acknowledged. */
  private filesOf: Execution | null = null;
  private resultOf: Result | null = null;
  /** A kill that arrived before there was a run: it ends without starting. */
  killReason: string | null = null;
  /** Copies its outputs back; the result waits for a last complete pass. */
  outSync: OutSync | null = null;
  /** The last outputs pass since the (re)connect was complete. */
  outSynced = false;
  /** That last pass is under way. */
  flushing = false;
  /** The result went out on the current connection. */
  resultSent = false;

  private constructor(
    readonly handle: string,
    readonly lease: string,
    phase: Phase,
  ) {
    this.current = phase;
  }

  /** Assigned, and behind an old copy of itself (`waiting`) or free to go (`staging` next). */
  static assigned(job: Assignment, behindOldCopy: boolean): HeldJob {
    return new HeldJob(job.handle, job.lease, behindOldCopy ? Phases.waiting : Phases.staging);
  }

  /** A run found again after this worker restarted. */
  static takenBack(run: Execution): HeldJob {
    const h = new HeldJob(run.job.handle, run.job.lease, Phases.running);
    h.runOf = run;
    h.filesOf = run;
    return h;
  }

  get phase(): Phase {
    return this.current;
  }

  get stager(): Stager | null {
    return this.stagerOf;
  }

  get run(): Execution | null {
    return this.runOf;
  }

  get files(): Execution | null {
    return this.filesOf;
  }

  get result(): Result | null {
    return this.resultOf;
  }

  get dropped(): boolean {
    return this.current === Phases.dropped || this.current === Phases.gone;
  }

  /** Listed in the hello: held, whether it runs or has a result to deliver. */
  get listed(): boolean {
    return !this.dropped;
  }

  /** Dropped, and nothing of it is still under way: it can be forgotten. */
  get settled(): boolean {
    return this.runOf === null && this.stagerOf === null;
  }

  private expect(from: readonly Phase[], to: Phase): void {
    if (!from.includes(this.current)) throw new Error(`${this.handle}: ${this.current} → ${to} is not a step of a held job`);
  }

  /** The old copy is gone: on to staging (which may find nothing to fetch). */
  setModeStaging(stager: Stager | null): void {
    this.expect([Phases.waiting, Phases.staging], Phases.staging);
    this.current = Phases.staging;
    this.stagerOf = stager;
  }

  /** Inputs are here (or there were none) and its run has begun. */
  setModeRunning(run: Execution): void {
    this.expect([Phases.staging], Phases.running);
    this.current = Phases.running;
    this.stagerOf = null;
    this.runOf = run;
    this.filesOf = run;
  }

  /** Ended, with or without a run: the result is held until the master acknowledges it. */
  setModeDelivering(result: Result): void {
    this.expect([Phases.waiting, Phases.staging, Phases.running], Phases.delivering);
    this.current = Phases.delivering;
    this.stagerOf = null;
    this.runOf = null;
    this.resultOf = result;
    this.resultSent = false;
  }

  /** Replaces the held result (a problem with its outputs found just before it goes out). */
  amendResult(result: Result): void {
    this.expect([Phases.delivering], Phases.delivering);
    this.resultOf = result;
  }

  /** The master took it away. Returns false when it already was. */
  setModeDropped(): boolean {
    if (this.dropped) return false;
    this.current = Phases.dropped;
    return true;
  }

  /** Its staging failed or its run ended while it was dropped, or it was given back: nothing under way. */
  settle(): void {
    this.stagerOf = null;
    this.runOf = null;
  }

  /** Forgotten. Returns the run whose records are to be cleaned up, if any. */
  setModeGone(): Execution | null {
    const files = this.filesOf;
    this.current = Phases.gone;
    this.stagerOf = null;
    this.runOf = null;
    this.filesOf = null;
    return files;
  }

  /** A new connection: everything not acknowledged goes again. */
  reconnected(): void {
    this.resultSent = false;
    // Outputs put into the old socket may not have arrived: all of them go again.
    this.outSync?.reset();
    this.outSynced = false;
  }
}
