// A job's limits, enforced the same way on every run: the time limit (a timer that holds any
// length), the memory limit against what the run measured, and the disk limit against its
// outPath. Going over one calls the run's kill with the reason (common/outcomes.ts).
import type { Assignment } from '../protocol/jobState.js';
import { diskUsageBeneath } from '../files/beneath.js';
import { jobRel } from './jobFiles.js';
import { Reasons } from '../common/outcomes.js';

/** setTimeout holds at most 2^31-1 ms (24.8 days); longer limits are re-armed in steps. */
export function longTimeout(fn: () => void, ms: number): { clear(): void } {
  const MAX = 2 ** 31 - 1;
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(() => (left > MAX ? arm(left - MAX) : fn()), Math.min(left, MAX));
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}

export class RunLimits {
  /** The most the outPath held at a sample, in MB; -1 before the first. */
  maxDisk = -1;
  private measuring = false;
  private timer: { clear(): void } | null = null;
  private over = false;

  /**
   * @param elapsed seconds the job has run, for the time limit's reason
   * @param exceeded the run's kill
   */
  constructor(
    private readonly job: Assignment,
    /** The directory the job's paths are resolved beneath (jobFiles.ts jobRoot). */
    private readonly root: string,
    private readonly elapsed: () => number,
    private readonly exceeded: (reason: string) => void,
  ) {}

  /** Starts (or starts again) the time limit, for a job that has already run `ranMs`. */
  armTime(ranMs: number): void {
    this.timer?.clear();
    this.timer = longTimeout(() => this.exceeded(Reasons.timeLimit(this.elapsed(), this.job.time)), Math.max(0, this.job.time * 1000 - ranMs));
  }

  /** What the run measured just now, in MB. */
  checkMemory(mb: number): void {
    if (!this.over && mb > this.job.mem * this.job.memGrace) this.exceeded(Reasons.memLimit(mb, this.job.mem, this.job.memGrace));
  }

  /** Measures the outPath (through no link: a job could otherwise have a host directory measured). */
  async sampleDisk(): Promise<void> {
    const { outPath } = this.job;
    if (this.over || this.measuring || !outPath) return;
    this.measuring = true;
    try {
      const mb = await diskUsageBeneath(this.root, jobRel(outPath));
      this.maxDisk = Math.max(this.maxDisk, mb);
      if (!this.over && mb > this.job.disk) this.exceeded(Reasons.diskLimit(mb, this.job.disk));
    } finally {
      this.measuring = false;
    }
  }

  /** The run is over: nothing is enforced any more. */
  end(): void {
    this.over = true;
    this.timer?.clear();
  }
}
