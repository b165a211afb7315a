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
//
// It also keeps the longest gap between two of its DELAY_TICK_MS ticks and what the master's
// thread did in it (threadTimes.ts): ran, waited for a CPU, or neither (blocked in the kernel,
// stopped). Said at shutdown beside the histogram's longest delay.
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/verbosity.js';
import { ThreadClock, type ThreadTimes } from './threadTimes.js';

/** A gap this long between ticks is a stall of the master, not of its workers. */
export const STALL_MS = 1000;
/**
 * monitorEventLoopDelay's timer: its histogram holds the gaps between two of its ticks, so a
 * loop that never waits shows this much, and a stall is what a gap holds beyond it.
 */
export const DELAY_TICK_MS = 10;

/** A gap between two ticks, ms, and how the master's thread spent it. */
export interface Gap {
  ms: number;
  /** Running on a CPU. */
  cpuMs: number;
  /** Ready, waiting for a CPU. */
  queuedMs: number;
  /** Neither: blocked in the kernel (the disk, a lock), stopped, or the loop's own wait between ticks (up to DELAY_TICK_MS). */
  offCpuMs: number;
}

/** One line for a gap: '85 ms: 12 ms on a CPU, 3 ms waiting for one, 70 ms off it'. */
export function describeGap(g: Gap): string {
  const ms = (x: number) => `${Math.round(x)} ms`;
  return `${ms(g.ms)}: ${ms(g.cpuMs)} on a CPU, ${ms(g.queuedMs)} waiting for one, ${ms(g.offCpuMs)} off it`;
}

export class StallWatch {
  private last: number;
  /** When the master last resumed listening after a stall (or started). */
  resumedAt: number;
  /** Every delay of the loop, for the longest one (said at shutdown; the scale bench reads it). */
  private readonly delays: IntervalHistogram = monitorEventLoopDelay({ resolution: DELAY_TICK_MS });
  private readonly thread = new ThreadClock();
  private readonly timer: NodeJS.Timeout;
  private lastTick = performance.now();
  private lastTimes: ThreadTimes | null = this.thread.read();
  /** The longest gap between two ticks so far with its breakdown; null where the thread's times are not known. */
  longestGap: Gap | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly log: Log,
  ) {
    this.last = this.resumedAt = clock.now();
    this.timer = setInterval(() => this.tick(), DELAY_TICK_MS);
    this.timer.unref();
    this.delays.enable();
  }

  /** Every DELAY_TICK_MS: a look at the clock (note), and the gap since the last tick, kept if the longest. */
  tick(): void {
    this.note();
    const now = performance.now();
    const times = this.thread.read();
    const ms = now - this.lastTick;
    const last = this.lastTimes;
    if (times && last && ms > (this.longestGap?.ms ?? 0)) {
      const cpuMs = times.cpuMs - last.cpuMs;
      const queuedMs = times.queuedMs - last.queuedMs;
      this.longestGap = { ms, cpuMs, queuedMs, offCpuMs: Math.max(0, ms - cpuMs - queuedMs) };
    }
    this.lastTick = now;
    this.lastTimes = times;
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
    this.thread.close();
    this.delays.disable();
    const gap = this.longestGap ? ` (the longest gap between ticks, ${describeGap(this.longestGap)})` : '';
    this.log(`Longest event-loop delay: ${Math.round(this.longestDelayMs)} ms${gap}`);
  }
}
