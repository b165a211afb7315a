// The last hours of the queue, a point a minute, for the dashboard's chart: jobs waiting
// (ready or held) and active (assigned, init, running) at the end of each minute, and jobs
// that finished in it. Counts come from job_counts (a few rows), finishes are counted as jobs
// end (lifecycle.ts); nothing is stored: a restarted master's chart starts afresh.
import type { Clock } from '../common/clock.js';
import type { QueuePoint } from '../protocol/clientMessages.js';
import type { JobStore } from '../store/jobs.js';
import { ACTIVE_STATUSES } from '../store/jobs.js';

export const HISTORY_MINUTES = 6 * 60;
const MINUTE_MS = 60_000;
const WAITING: readonly string[] = ['ready', 'held'];

export class QueueHistory {
  private readonly points: QueuePoint[] = [];
  private finishedNow = 0;
  private minute: number;

  constructor(
    private readonly jobs: JobStore,
    private readonly clock: Clock,
  ) {
    this.minute = Math.floor(clock.now() / MINUTE_MS);
  }

  /** A job reached done or failed. */
  finished(): void {
    this.roll();
    this.finishedNow++;
  }

  /** The closed minutes, oldest first, then the one under way. */
  read(): QueuePoint[] {
    this.roll();
    return [...this.points, this.point(this.clock.now())];
  }

  /** Called every few seconds (and on each read): closes the minutes that have passed. */
  roll(): void {
    const now = Math.floor(this.clock.now() / MINUTE_MS);
    if (now === this.minute) return;
    this.points.push(this.point((this.minute + 1) * MINUTE_MS));
    this.finishedNow = 0;
    this.minute = now;
    if (this.points.length > HISTORY_MINUTES) this.points.splice(0, this.points.length - HISTORY_MINUTES);
  }

  private point(at: number): QueuePoint {
    let queued = 0;
    let running = 0;
    for (const c of this.jobs.counts()) {
      if (WAITING.includes(c.status)) queued += c.n;
      else if ((ACTIVE_STATUSES as readonly string[]).includes(c.status)) running += c.n;
    }
    return { at, queued, running, finished: this.finishedNow };
  }
}
