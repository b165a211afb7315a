// The master's own record of when it could listen, so that a stall of the master is never
// blamed on its workers.
//
// Why: the master is one event loop. When something holds it (a long request, a slow disk,
// SIGSTOP, a paused VM), the heartbeats its workers send meanwhile wait in the sockets, and
// when the loop runs again, timers come before reading them: a lost-worker sweep then finds
// every worker silent past -heartbeatTimeout and takes their running jobs away, to run them a
// second time. So a worker's silence counts only from when the master was listening: a gap
// between two looks at the clock longer than STALL_MS marks the moment listening resumed, and
// every worker gets a full timeout from there.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/verbosity.js';

/** A gap this long between ticks is a stall of the master, not of its workers. */
export const STALL_MS = 1000;
const TICK_MS = 200;
/**
 * monitorEventLoopDelay's timer: its histogram holds the gaps between two of its ticks, so a
 * loop that never waits shows this much, and a stall is what a gap holds beyond it.
 */
export const DELAY_TICK_MS = 10;

export class StallWatch {
  private last: number;
  /** When the master last resumed listening after a stall (or started). */
  resumedAt: number;
  private readonly timer: NodeJS.Timeout;
  /** Every delay of the loop, for the longest one (said at shutdown; the scale bench reads it). */
  private readonly delays: IntervalHistogram = monitorEventLoopDelay({ resolution: DELAY_TICK_MS });

  constructor(
    private readonly clock: Clock,
    private readonly log: Log,
  ) {
    this.last = this.resumedAt = clock.now();
    this.timer = setInterval(() => this.note(), TICK_MS);
    this.timer.unref();
    this.delays.enable();
  }

  /** The longest gap between two ticks since start, in ms (the longest stall plus DELAY_TICK_MS). */
  get longestDelayMs(): number {
    return this.delays.max / 1e6;
  }

  /** Looks at the clock; call it first in anything that judges silence. */
  note(): void {
    const now = this.clock.now();
    const gap = now - this.last;
    this.last = now;
    if (gap > STALL_MS) {
      this.resumedAt = now;
      this.log.warn(`The master did not run for ${(gap / 1000).toFixed(1)}s: its workers' silence counts from now`);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.delays.disable();
    this.log(`Longest event-loop delay: ${Math.round(this.longestDelayMs)} ms`);
  }
}
