// `dispatch-q info`: jobs as CodaLab's work manager reads them. state is `running` while the
// job runs and `queued` otherwise (finished included): the run counts as finished when
// `exitcode` is present, so every finished job carries one. time in seconds, memory in
// bytes, hostname of the worker; fields not known are left out.
import type { JobView } from '../protocol/jobState.js';

export interface Info {
  handle: string;
  state: 'running' | 'queued';
  hostname?: string;
  exitcode?: number;
  exitreason?: string;
  time?: number;
  memory?: number;
}

export function infoOf(job: JobView): Info {
  const info: Info = { handle: job.handle, state: job.status === 'running' ? 'running' : 'queued' };
  if (job.workerHostname ?? job.worker) info.hostname = (job.workerHostname ?? job.worker)!;
  const finished = job.status === 'done' || job.status === 'failed';
  if (finished) info.exitcode = job.exitCode ?? 1; // a finished job without a code still ends
  if (job.exitReason) info.exitreason = job.exitReason;
  if (job.realTime >= 0) info.time = Math.round(job.realTime);
  if (job.maxMem >= 0) info.memory = Math.round(job.maxMem * 1024 * 1024);
  return info;
}
