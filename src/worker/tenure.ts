// How long a worker stays (a pilot's life on a batch system): -lifetime D, it leaves after D
// without a job (fig's lifetime); -walltime D, it lives at most D from its start. Near the end
// of its walltime it takes only jobs whose -time fits in what is left (the master picks by the
// maxTime it reports), then none, and it leaves once its last job has ended: a job it could
// not finish is never given to it, so nothing goes back to the queue half-done.
import type { Clock } from '../common/clock.js';

export interface TenureOptions {
  /** ms without a job after which it leaves; null: never. */
  lifetimeMs: number | null;
  /** ms from its start after which it is gone; null: no limit. */
  walltimeMs: number | null;
  /** What it keeps in hand at the end of its walltime: its reports lag by a heartbeat or two. */
  marginMs: number;
}

export class Tenure {
  private readonly startedAt: number;
  private idleSince: number;

  constructor(
    private readonly opts: TenureOptions,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock.now();
    this.idleSince = this.startedAt;
  }

  /** Whether this worker's life is bounded (-lifetime or -walltime): a pilot's. */
  get ends(): boolean {
    return this.opts.lifetimeMs !== null || this.opts.walltimeMs !== null;
  }

  /** The longest job (seconds) it takes now: `configured` (-maxTime), cut to what the walltime leaves; 0: none. */
  maxTime(configured: number | null): number | null {
    if (this.opts.walltimeMs === null) return configured;
    const left = Math.floor((this.startedAt + this.opts.walltimeMs - this.opts.marginMs - this.clock.now()) / 1000);
    return Math.max(0, configured === null ? left : Math.min(configured, left));
  }

  /** Why it should leave now (holding `jobs`), or null. Idleness counts from when it last held one. */
  due(jobs: number): string | null {
    const now = this.clock.now();
    if (jobs > 0) {
      this.idleSince = now;
      return null;
    }
    if (this.opts.walltimeMs !== null && this.maxTime(null) === 0) return `its walltime (${this.opts.walltimeMs / 1000}s) is nearly over`;
    if (this.opts.lifetimeMs !== null && now - this.idleSince >= this.opts.lifetimeMs) return `idle for ${this.opts.lifetimeMs / 1000}s (-lifetime)`;
    return null;
  }
}
