// The environment q gives every job, process or container alike: its handle and, for jobs
// added together (-numTimes, -add -), where it stands among them.
import type { JobSpec } from './jobSpec.js';

export function jobEnv(job: Pick<JobSpec, 'arrayIndex' | 'arrayCount' | 'array'> & { handle: string }): Record<string, string> {
  const env: Record<string, string> = { Q_JOB_HANDLE: job.handle };
  if (job.arrayIndex !== null && job.arrayCount !== null) {
    env.Q_INDEX = String(job.arrayIndex);
    env.Q_COUNT = String(job.arrayCount);
    if (job.array) env.Q_ARRAY = job.array;
  }
  return env;
}
