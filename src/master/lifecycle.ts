// Where a job's life is decided on the master: every way a job ends, is killed, goes back to
// the queue, is deleted or is run again passes through one function here.
//
//   held ──released, or what it waits for is done (jobEnded settles it)──▶ ready
//     └─── a job it waits for failed or was deleted ──▶ failed     -retry: failed command ──▶ held
//   ready ──claim──▶ assigned ──staging──▶ init ──started──▶ running ──finished──▶ done | failed
//     ▲                 │                    │                   │
//     └──── takeBack ───┴────────────────────┴───────────────────┘ (or failed: being killed,
//           worker lost, gave it back, restarted without it          or lost past -retries)
//     ▲
//     └──── rerun ◀── done | failed            kill: active ──killJob──▶ worker ──finished──▶ failed
//                                              kill -queued: ready ──▶ failed (never ran)
//                                              delete: any ──▶ gone (an active one is killed first)
//
// The scheduler's claim is the only way in to `assigned` (scheduler.ts); the worker's
// `started` and `staging` move it on (workerLink.ts). Everything else is here. Each step is
// one store call that checks the lease where a worker's report is concerned, then its side
// effects: followers of its log, hooks, the worker's reservation, and a kick for the free slot.
import type { JobView, Result } from '../protocol/jobState.js';
import { ACTIVE_STATUSES, FINISHED_STATUSES } from '../store/jobs.js';
import { ExitCodes, Reasons } from '../common/outcomes.js';
import { runHook } from './hooks.js';
import type { Hub } from './hub.js';
import { holds, release, type WorkerSession } from './registry.js';

/** What `-log -follow` is told when the job it follows is deleted under it. */
export const DELETED = 'deleted';

/**
 * A job reached done or failed: the jobs that wait for it are settled (workflow: they run, or
 * fail with it, transitively), then hooks, followers, and a free slot to fill.
 */
export function jobEnded(hub: Hub, job: JobView): void {
  const settled = hub.jobs.deps.ended(job.handle, job.status === 'done' && job.exitCode === 0, hub.clock.now());
  for (const j of [job, ...settled.failed]) endedHere(hub, j);
  hub.scheduler.kick();
}

function endedHere(hub: Hub, job: JobView): void {
  hub.outputs.forget(job.handle);
  if (job.worker) hub.workers.get(job.worker)?.jobs.delete(job.handle);
  const dropped = hub.logs.end(job.handle, job.status);
  if (dropped > 0) hub.jobs.setLogDropped(job.handle, dropped);
  runHook({ ...job, logDropped: dropped }, hub.log);
  hub.metrics.ended(job);
  hub.history.finished();
}

/**
 * A worker's result. Applied only under the job's current lease; acknowledged either way, since
 * a result the table no longer wants must not be sent again forever.
 */
export function resultReported(hub: Hub, s: WorkerSession, handle: string, lease: string, reported: Result): void {
  // Outputs the master refused: the job says so, and does not end done.
  const refused = holds(s, handle, lease) ? hub.outputs.takeRefused(lease) : null;
  const result = refused && reported.exitReason === null ? { ...reported, exitReason: refused } : reported;
  const outcome = hub.jobs.finish(handle, lease, result, hub.clock.now());
  hub.workers.send(s, { type: 'resultAck', handle, lease, applied: outcome.applied });
  release(s, handle, lease);
  if (outcome.job) jobEnded(hub, outcome.job);
  else {
    // -retry: not ended; it waits (held) for its retry, whose output starts afresh.
    if (outcome.retrying) {
      hub.outputs.forget(handle);
      hub.logs.remove(handle);
      hub.log(`Retry of ${handle} later: exit code ${reported.exitCode}`);
    }
    hub.scheduler.kick();
  }
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

/** `-kill`: active jobs are killed by their workers; with `queued`, ready ones fail unrun. Returns the handles touched. */
export function killJobs(hub: Hub, matched: readonly JobView[], queued: boolean): string[] {
  const active = matched.filter((j) => ACTIVE_STATUSES.includes(j.status));
  for (const job of active) killActive(hub, job, Reasons.killedByRequest, { deleting: false });
  const ready = queued ? matched.filter((j) => j.status === 'ready' || j.status === 'held') : [];
  const now = hub.clock.now();
  const ended = ready.map((j) => hub.jobs.failReady(j.handle, ExitCodes.TERMINATED, Reasons.killedBeforeStart, now)).filter((j) => j !== undefined);
  for (const job of ended) jobEnded(hub, job);
  return [...active, ...ended].map((j) => j.handle);
}

/**
 * `-delete`: gone from the table with their logs (removed in the background: wait for
 * hub.logs.settled()); one still running is killed first, so it does not run where nobody sees it.
 */
export function deleteJobs(hub: Hub, matched: readonly JobView[]): string[] {
  for (const job of matched) {
    if (ACTIVE_STATUSES.includes(job.status)) killActive(hub, job, Reasons.deleted, { deleting: true });
  }
  // What waits for them is settled first, as if they had failed (-afterAny: ended).
  const now = hub.clock.now();
  const failed = matched.flatMap((j) => hub.jobs.deps.ended(j.handle, false, now).failed);
  const deleted = hub.jobs.delete(matched.map((j) => j.handle));
  const gone = new Set(deleted);
  for (const j of failed) if (!gone.has(j.handle)) endedHere(hub, j);
  for (const job of matched) {
    if (job.worker) hub.workers.get(job.worker)?.jobs.delete(job.handle);
    hub.logs.discard(job.handle, DELETED); // its files go off the event loop: logs.settled()
  }
  hub.scheduler.kick();
  return deleted;
}

/** `-rerun`: finished jobs go back to ready, their old output gone. */
export function rerunJobs(hub: Hub, matched: readonly JobView[]): string[] {
  const rerun = hub.jobs.rerun(matched.filter((j) => FINISHED_STATUSES.includes(j.status)).map((j) => j.handle));
  // Jobs that failed because one of these failed wait for it again.
  for (const handle of rerun) hub.jobs.deps.rerun(handle);
  for (const handle of rerun) hub.logs.remove(handle);
  hub.scheduler.kick();
  return rerun;
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
