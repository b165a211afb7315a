// What process and container runs share in enforcing a job's limits: a time limit timer that
// holds any length, and the outPath's disk usage against the disk limit.
import type { Assignment } from '../protocol/jobState.js';
import { diskUsageBeneath } from '../files/beneath.js';
import { jobRel, jobRoot } from './jobFiles.js';
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

/** Measures a job's outPath now and then; says when it holds more than the disk limit. */
export class DiskWatch {
  max = -1;
  private busy = false;

  constructor(
    private readonly job: Assignment,
    private readonly basePath: string,
  ) {}

  /** The reason to kill the job, or null. */
  async sample(): Promise<string | null> {
    const { outPath } = this.job;
    if (this.busy || !outPath) return null;
    this.busy = true;
    try {
      // Through no link: a job could otherwise have a host directory measured.
      const mb = await diskUsageBeneath(jobRoot(this.job, this.basePath), jobRel(this.job, outPath));
      this.max = Math.max(this.max, mb);
      return mb > this.job.disk ? Reasons.diskLimit(mb, this.job.disk) : null;
    } finally {
      this.busy = false;
    }
  }
}
