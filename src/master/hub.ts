// What the master's parts share: the stores, the worker registry, the scheduler, the log
// spool, the clock, and the few things that happen whenever a job ends or is taken away.
import type { Clock } from '../common/clock.js';
import type { JobView } from '../protocol/jobState.js';
import type { JobStore } from '../store/jobs.js';
import { runHook } from './hooks.js';
import type { LogSpool } from './logs.js';
import type { OutputSink } from './files/outputs.js';
import { release, type WorkerRegistry } from './registry.js';
import type { Scheduler } from './scheduler.js';
import { ExitCodes } from '../common/outcomes.js';

export interface Hub {
  jobs: JobStore;
  workers: WorkerRegistry;
  scheduler: Scheduler;
  logs: LogSpool;
  outputs: OutputSink;
  clock: Clock;
  log: (line: string) => void;
  /** How long a silent worker keeps its jobs, in ms. */
  heartbeatTimeoutMs: number;
  shutdown(): void;
}

/** A job reached done or failed: hooks, followers, and a free slot to fill. */
export function jobEnded(hub: Hub, job: JobView): void {
  hub.outputs.forget(job.handle);
  if (job.worker) hub.workers.get(job.worker)?.jobs.delete(job.handle);
  const dropped = hub.logs.end(job.handle, job.status);
  if (dropped > 0) hub.jobs.setLogDropped(job.handle, dropped);
  runHook({ ...job, logDropped: dropped }, hub.log);
  hub.scheduler.kick();
}

/**
 * Asks the worker holding an active job to kill it, and records the kill so that losing
 * the worker cannot turn it into a requeue. When that worker is not connected the job is
 * failed here (unless it is about to be deleted anyway), so that it never stays "running"
 * for a process nobody can reach; the worker is told the lease is gone if it comes back.
 */
export function killActive(hub: Hub, job: JobView, reason: string, opts: { deleting: boolean }): void {
  const lease = hub.jobs.leaseOf(job.handle)?.lease;
  if (!lease) return;
  hub.jobs.requestKill(job.handle, reason);
  const session = job.worker ? hub.workers.get(job.worker) : undefined;
  if (session && hub.workers.send(session, { type: 'killJob', handle: job.handle, lease, reason })) return;
  if (opts.deleting) return;
  const failed = hub.jobs.failActive(job.handle, ExitCodes.KILLED, `${reason} (its worker was not connected)`, hub.clock.now());
  if (failed) jobEnded(hub, failed);
}

/**
 * A worker no longer has this job: back to the queue, or failed if it was being killed or
 * (`lost`: the worker vanished) has lost its worker more often than its -retries allow.
 */
export function takeBack(
  hub: Hub,
  handle: string,
  lease: string,
  why: string,
  opts: { lost: boolean; neverRan?: boolean } = { lost: false },
): void {
  const out = hub.jobs.requeue(handle, lease, hub.clock.now(), opts.lost ? { why } : null, opts.neverRan ?? false);
  for (const s of hub.workers.all()) release(s, handle, lease);
  if (out.requeued) {
    hub.log(`Requeued ${handle}: ${why}`);
    hub.logs.remove(handle); // the next attempt's output starts afresh
    hub.scheduler.kick();
  } else if (out.failed) {
    hub.log(`Failed ${handle}: ${why} (${out.failed.exitReason})`);
    jobEnded(hub, out.failed);
  }
}
