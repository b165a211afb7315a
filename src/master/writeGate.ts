// Where the master's writes wait while the checkpoint thread starts the WAL again
// (store/checkpointer.ts). That thread then holds SQLite's write lock through an fsync of the
// new WAL header, which took up to a second on a busy disk; a write that waited for the lock
// inside SQLite's busy handler held the whole event loop with it, so no read, heartbeat or
// listing was answered either. Here only the writes wait: every message that may write (a
// client's request but a listing's or a log's, a worker's message, a socket's close, a
// scheduler pass, a timer's turn) goes through run(), and while the gate is paused it is held,
// in the order it came, and run once the gate opens again, a slice a turn.
import type { Pause } from '../store/checkpointer.js';

/** Held writes run per turn of the event loop once the gate opens: a few milliseconds' worth. */
export const RUN_PER_TURN = 200;

export class WriteGate implements Pause {
  private paused = false;
  private readonly held: (() => void)[] = [];
  private scheduled = false;
  private pausedAt = 0;
  /** Times paused, and for how long in all and at most (ms): the master says them at shutdown. */
  pauses = 0;
  heldMs = 0;
  longestMs = 0;

  /** `failed`: what a held write threw (callers catch their own; this is the last net). */
  constructor(private readonly failed: (e: unknown) => void = () => {}) {}

  /**
   * Nothing waits: a write may go now. A timer whose turn comes while not clear skips it: its
   * next turn does the same work, and a held heartbeat must not be judged late by a sweep
   * that runs before it.
   */
  get clear(): boolean {
    return !this.paused && this.held.length === 0;
  }

  /** Runs `fn` now if nothing waits, else after what waits before it. */
  run(fn: () => void): void {
    if (this.clear) return fn();
    this.held.push(fn);
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.pausedAt = performance.now();
    this.pauses++;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const ms = performance.now() - this.pausedAt;
    this.heldMs += ms;
    this.longestMs = Math.max(this.longestMs, ms);
    this.schedule();
  }

  /** At shutdown, before the database closes: whatever still waits runs now. */
  runHeld(): void {
    this.resume();
    for (const fn of this.held.splice(0)) {
      try {
        fn();
      } catch (e) {
        this.failed(e);
      }
    }
  }

  private schedule(): void {
    if (this.scheduled || this.held.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const slice = this.paused ? [] : this.held.splice(0, RUN_PER_TURN);
      for (const fn of slice) {
        try {
          fn();
        } catch (e) {
          this.failed(e);
        }
      }
      if (!this.paused) this.schedule();
    });
  }
}
