// A row of the job table as SQLite returns it, and the view of it that crosses the wire.
import { EXIT_REASON_SQL } from './classReasons.js';
import { JOB_SPEC_DEFAULTS, type JobSpec } from '../protocol/jobSpec.js';
import type { JobStatus, JobView } from '../protocol/jobState.js';

export interface JobRow {
  seq: number;
  handle: string;
  status: JobStatus;
  spec: string;
  created_at: number;
  worker: string | null;
  worker_host: string | null;
  lease: string | null;
  attempt: number;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  exit_reason: string | null;
  real_time: number;
  user_time: number;
  max_mem: number;
  max_disk: number;
  log_dropped: number;
  cur_mem: number;
  retried: number;
  retry_at: number | null;
  retry_codes: string;
}

/** The columns a JobRow is read from: a listing asks for these, not `*` (each column costs). */
export const VIEW_COLUMNS =
  `seq, handle, status, spec, created_at, worker, worker_host, lease, attempt, started_at, finished_at, exit_code, ${EXIT_REASON_SQL}, ` +
  'real_time, user_time, max_mem, max_disk, log_dropped, cur_mem, retried, retry_at, retry_codes';

export function toView(r: JobRow): JobView {
  const spec = JSON.parse(r.spec) as JobSpec;
  // Object.assign, not spread: spreading 40 keys twice cost 60 µs a row, most of a listing.
  return Object.assign({}, JOB_SPEC_DEFAULTS /* fields added since a row was stored */, spec, {
    handle: r.handle,
    status: r.status,
    createdAt: r.created_at,
    worker: r.worker,
    workerHostname: r.worker_host,
    attempt: r.attempt,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    exitCode: r.exit_code,
    exitReason: r.exit_reason,
    realTime: r.real_time,
    userTime: r.user_time,
    maxMem: r.max_mem,
    maxDisk: r.max_disk,
    curMem: r.cur_mem,
    logDropped: r.log_dropped,
    retried: r.retried,
    retryAt: r.retry_at,
    retryCodes: JSON.parse(r.retry_codes) as number[],
  });
}
