// The job table: every read and write of a job goes through one method here.
//
// A job's life (master/lifecycle.ts says when each step is taken):
//   ready ──claim──▶ assigned ──staging──▶ init ──started──▶ running ──finish──▶ done | failed
//     ▲                 │                   │                   │
//     └──── requeue (worker lost, gave it back, lease expired) ─┘    rerun: done | failed ──▶ ready
//
// `claim` picks the best fitting ready job (lowest priority number, then oldest) by its
// requirement class (readyClasses.ts), then in one conditional update records the worker, a
// fresh lease and attempt + 1. Every later event from the
// worker names that lease and is applied only while it is still the job's lease, so a worker
// that lost its job (requeued, deleted, reassigned) cannot overwrite what happened since.
// `finish` clears the lease, which makes a repeated result a no-op.
import { nanoid } from 'nanoid';
import type { Db } from './db.js';
import { JOB_SPEC_DEFAULTS, type JobSpec } from '../protocol/jobSpec.js';
import type { JobStatus, JobView, Result, Stats } from '../protocol/jobState.js';
import type { JobCount } from '../protocol/clientMessages.js';
import { ExitCodes, Reasons } from '../common/outcomes.js';
import { MAX_RETRY_DELAY_S } from '../common/limits.js';
import { ReadyClasses, requirementOf, type WorkerFit } from './readyClasses.js';
import { toView, type JobRow } from './jobRow.js';
import { JobPages } from './jobPages.js';
import { Dependencies } from './dependencies.js';
import { Adds } from './adds.js';
import { ClassReasons } from './classReasons.js';
import { HandleNumbers, randomHandle } from './handles.js';

export const Status = {
  held: 'held',
  ready: 'ready',
  assigned: 'assigned',
  init: 'init',
  running: 'running',
  done: 'done',
  failed: 'failed',
} as const satisfies Record<JobStatus, JobStatus>;

export const ACTIVE_STATUSES: readonly JobStatus[] = [Status.assigned, Status.init, Status.running];
export const FINISHED_STATUSES: readonly JobStatus[] = [Status.done, Status.failed];

/** A worker asking for a job: what it can take, and its host for the table. */
export type ClaimLimits = WorkerFit & { host: string };

export interface Claimed {
  handle: string;
  lease: string;
  attempt: number;
  spec: JobSpec;
}

export interface FinishOutcome {
  applied: boolean;
  /** The job that ended (done or failed). */
  job?: JobView;
  /** It failed with retries left: held until its retry is due (-retry). */
  retrying?: boolean;
}

/**
 * Seconds before retry number `retried` + 1: `delay`, doubled for each retry made, at most an
 * hour, then spread by ±20% (`jitter` in [0, 1)) so that a sweep that failed at once does not
 * come back at once.
 */
export function retryDelayS(delay: number, retried: number, jitter: number): number {
  const base = Math.min(delay * 2 ** retried, MAX_RETRY_DELAY_S);
  return base * (0.8 + 0.4 * jitter);
}


export class JobStore {
  private readonly s;
  /** Which ready jobs a worker could take, by requirement class (readyClasses.ts). */
  readonly ready: ReadyClasses;
  /** Listings a page at a time (jobPages.ts). */
  readonly pages: JobPages;
  /** Jobs that wait for others, and held jobs (dependencies.ts). */
  readonly deps: Dependencies;
  private readonly handles: HandleNumbers;
  /** Adds of many batches, each one thing (adds.ts). */
  readonly adds: Adds;
  /** Why the ready jobs of a class wait, when no worker could take them (classReasons.ts). */
  readonly reasons: ClassReasons;

  constructor(private readonly db: Db) {
    this.ready = new ReadyClasses(db);
    this.pages = new JobPages(db);
    this.deps = new Dependencies(db, this.ready);
    this.handles = new HandleNumbers(db);
    this.adds = new Adds(db, this.ready);
    this.reasons = new ClassReasons(db);
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO jobs (handle, status, priority, time_limit, mem, worker_pin, docker, cpus, gpus, queue, retries, spec, created_at, class,
                                   hold, waiting, wait_reason, exit_reason, exit_code, finished_at, retry_max, array_of, add_id)
                 VALUES (@handle, @status, @priority, @time, @mem, @pin, @docker, @cpus, @gpus, @queue, @retries, @spec, @now, @class,
                         @hold, @waiting, @waitReason, @exitReason, @exitCode, @finishedAt, @retryMax, @arrayOf, @addId)`),
      retryOf: p(`SELECT retried, retry_max, retry_codes, spec ->> '$.retryDelay' AS delay FROM jobs
                  WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init', 'running')`),
      retryLater: p(`UPDATE jobs SET status = 'held', lease = NULL, worker = NULL, worker_host = NULL, cur_mem = -1,
                       retried = retried + 1, retry_at = @at, retry_codes = @codes, exit_reason = @reason,
                       started_at = NULL, real_time = -1, user_time = -1, max_mem = -1, max_disk = -1
                     WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init', 'running')`),
      retryDue: p(`UPDATE jobs SET retry_at = NULL,
                     status = CASE WHEN hold = 1 OR waiting > 0 THEN 'held' ELSE 'ready' END,
                     exit_reason = CASE WHEN hold = 1 THEN '${Reasons.held}' WHEN waiting > 0 THEN wait_reason ELSE NULL END
                   WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_retry WHERE retry_at IS NOT NULL AND retry_at <= @now LIMIT @limit)
                   RETURNING class, status`),
      claim: p(`UPDATE jobs SET status = 'assigned', worker = @worker, worker_host = @host, lease = @lease,
                  attempt = attempt + 1, started_at = NULL, finished_at = NULL, exit_code = NULL,
                  exit_reason = NULL, real_time = -1, user_time = -1, max_mem = -1, max_disk = -1, cur_mem = -1
                WHERE handle = @handle AND status = 'ready'`),
      staging: p(`UPDATE jobs SET status = 'init'
                  WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init')`),
      started: p(`UPDATE jobs SET status = 'running', started_at = @now
                  WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init')`),
      stats: p(`UPDATE jobs SET real_time = @realTime, user_time = @userTime, max_mem = @maxMem, max_disk = @maxDisk,
                  cur_mem = @mem
                WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init', 'running')`),
      finish: p(`UPDATE jobs SET status = @status, lease = NULL, finished_at = @now, exit_code = @exitCode,
                   exit_reason = @exitReason, real_time = @realTime, user_time = @userTime,
                   max_mem = @maxMem, max_disk = @maxDisk, cur_mem = -1
                 WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init', 'running')
                 RETURNING *`),
      failActive: p(`UPDATE jobs SET status = 'failed', lease = NULL, finished_at = @now, exit_code = @exitCode,
                       exit_reason = @exitReason, cur_mem = -1
                     WHERE handle = @handle AND status IN ('assigned', 'init', 'running')
                     RETURNING *`),
      failReady: p(`UPDATE jobs SET status = 'failed', finished_at = @now, exit_code = @exitCode, exit_reason = @exitReason, retry_at = NULL
                    WHERE handle = @handle AND status IN ('ready', 'held')
                    RETURNING *`),
      requeue: p(`UPDATE jobs SET status = 'ready', lease = NULL, worker = NULL, worker_host = NULL, cur_mem = -1,
                    lost = lost + @lost, attempt = attempt - (@neverRan = 1 AND status = 'assigned')
                  WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init', 'running')
                    AND kill_reason IS NULL AND (@lost = 0 OR lost < retries)
                  RETURNING class`),
      failLost: p(`UPDATE jobs SET status = 'failed', lease = NULL, finished_at = @now, exit_code = ${ExitCodes.NOT_PROVIDED}, cur_mem = -1,
                     lost = lost + 1, exit_reason = '${Reasons.workerLost}' || @why || ' (' || (lost + 1) || ' times; -retries ' || retries || ')'
                   WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init', 'running')
                   RETURNING *`),
      failKilled: p(`UPDATE jobs SET status = 'failed', lease = NULL, finished_at = @now, exit_code = ${ExitCodes.KILLED}, cur_mem = -1,
                       exit_reason = kill_reason || ' (its worker was lost before it could report)'
                     WHERE handle = @handle AND lease = @lease AND status IN ('assigned', 'init', 'running')
                       AND kill_reason IS NOT NULL
                     RETURNING *`),
      requestKill: p(`UPDATE jobs SET kill_reason = coalesce(kill_reason, @reason)
                      WHERE handle = @handle AND status IN ('assigned', 'init', 'running')`),
      rerun: p(`UPDATE jobs SET status = 'ready', lease = NULL, worker = NULL, worker_host = NULL, kill_reason = NULL, lost = 0,
                  started_at = NULL, finished_at = NULL, exit_code = NULL, exit_reason = NULL,
                  real_time = -1, user_time = -1, max_mem = -1, max_disk = -1, cur_mem = -1, log_dropped = 0,
                  retried = 0, retry_at = NULL, retry_codes = '[]'
                WHERE handle = @handle AND status IN ('done', 'failed') AND add_id IS NULL
                RETURNING class`),
      setLogDropped: p(`UPDATE jobs SET log_dropped = @bytes WHERE handle = @handle`),
      delete: p(`DELETE FROM jobs WHERE handle = @handle`),
      get: p(`SELECT * FROM jobs WHERE handle = ?`),
      leaseOf: p(`SELECT lease, status FROM jobs WHERE handle = ?`),
      activeOf: p(`SELECT * FROM jobs WHERE worker = ? AND status IN ('assigned', 'init', 'running') ORDER BY seq`),
      active: p(`SELECT * FROM jobs WHERE status IN ('assigned', 'init', 'running') ORDER BY seq`),
      count: p(`SELECT coalesce(sum(n), 0) AS n FROM job_counts`),
      counts: p(`SELECT status, queue, n FROM job_counts WHERE n > 0 ORDER BY status, queue`),
      finishedBefore: p(`SELECT handle FROM jobs INDEXED BY jobs_finished
                         WHERE status IN ('done', 'failed') AND finished_at < @cutoff ORDER BY finished_at LIMIT @limit`),
    };
  }

  /**
   * Adds jobs in one transaction (one commit for a whole batch) and returns their handles.
   * `flow`: the jobs wait for these (handles, as each spec's after/afterAny say too), or are held.
   */
  insert(
    specs: readonly JobSpec[],
    now: number,
    flow: { after?: readonly string[]; afterAny?: readonly string[]; hold?: boolean } = {},
    add: { id: string; staged: boolean } | null = null,
  ): string[] {
    const addId = add?.staged ? add.id : null;
    const classes = new Set<number>();
    let handles: string[];
    try {
      handles = this.db.transaction(() => {
        const plan = flow.after?.length || flow.afterAny?.length ? this.deps.plan(flow.after ?? [], flow.afterAny ?? []) : null;
        const hold = flow.hold === true;
        const failedBy = plan?.failedBy ?? null;
        // A part of an add of many (adds.ts): one more to wait for, the add itself.
        const staged = addId !== null;
        const waiting = (plan?.waiting ?? 0) + (staged ? 1 : 0);
        const status = failedBy ? Status.failed : hold || waiting > 0 ? Status.held : Status.ready;
        const state = {
          status,
          hold: hold ? 1 : 0,
          waiting,
          waitReason: plan?.reason ?? null,
          exitReason: failedBy ? Reasons.dependencyFailed(failedBy) : hold ? Reasons.held : (plan?.reason ?? (staged ? Reasons.beingAdded : null)),
          exitCode: failedBy ? ExitCodes.NOT_PROVIDED : null,
          finishedAt: failedBy ? now : null,
        };
        if (add) {
          if (add.staged) this.adds.noteStaged(add.id, specs.length, now);
          else this.adds.noteCommittedOnce(add.id, specs.length, now);
        }
        const added: string[] = [];
        // Jobs added together name the first of them (Q_ARRAY); later batches come with it.
        let arrayFirst: string | null = null;
        let seq = this.handles.nextSeq();
        for (const spec of specs) {
          const cls = this.ready.classOf(requirementOf(spec));
          classes.add(cls);
          for (let tries = 0; ; tries++) {
            const handle = tries === 0 ? this.handles.of(seq) : randomHandle();
            const first: string | null = spec.arrayCount !== null && spec.array === null && spec.arrayIndex === 0 ? handle : arrayFirst;
            const stored = spec.arrayCount !== null && spec.array === null ? { ...spec, array: first ?? handle } : spec;
            try {
              // Every field written out: a `...state` spread here made the parameters an object
              // better-sqlite3 reads slowly, and an add cost 48 µs a job instead of 18.
              const { lastInsertRowid } = this.s.insert.run({
                status: state.status,
                hold: state.hold,
                waiting: state.waiting,
                waitReason: state.waitReason,
                exitReason: state.exitReason,
                exitCode: state.exitCode,
                finishedAt: state.finishedAt,
                handle,
                priority: spec.priority,
                time: spec.time,
                mem: spec.mem,
                pin: spec.workerHandle,
                docker: spec.dockerImage ? 1 : 0,
                cpus: spec.cpus,
                gpus: spec.gpus,
                queue: spec.queue,
                retries: spec.retries,
                spec: JSON.stringify(stored),
                now,
                class: cls,
                retryMax: spec.retry,
                arrayOf: stored.array,
                addId,
              });
              seq = Number(lastInsertRowid) + 1;
              if (plan) this.deps.link(Number(lastInsertRowid), plan);
              arrayFirst = first;
              added.push(handle);
              break;
            } catch (e) {
              // An old random handle where the numbered one falls (handles.ts); rare.
              if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE' || tries > 20) throw e;
            }
          }
        }
        return added;
      })();
    } catch (e) {
      this.ready.reload(); // classes it made are gone with the transaction
      throw e;
    }
    // (a staged part's jobs are not ready: their classes are marked as the add lets them go)
    if (addId === null) for (const c of classes) this.ready.mark(c);
    return handles;
  }

  /**
   * Picks the best ready job this worker can take and assigns it. The pick reads only the
   * heads of the classes that fit (readyClasses.ts); the claim is one conditional update.
   */
  claim(limits: ClaimLimits): Claimed | undefined {
    const head = this.ready.best(limits);
    if (!head) return undefined;
    const lease = nanoid(12);
    if (this.s.claim.run({ handle: head.handle, worker: limits.worker, host: limits.host, lease }).changes !== 1) return undefined;
    return { handle: head.handle, lease, attempt: head.attempt + 1, spec: { ...JOB_SPEC_DEFAULTS, ...(JSON.parse(head.spec) as JobSpec) } };
  }

  /** The worker is fetching the job's inputs. False when the lease is no longer current. */
  markStaging(handle: string, lease: string): boolean {
    return this.s.staging.run({ handle, lease }).changes === 1;
  }

  /** The worker started the job. False when the lease is no longer current. */
  markRunning(handle: string, lease: string, now: number): boolean {
    return this.s.started.run({ handle, lease, now }).changes === 1;
  }

  recordStats(handle: string, lease: string, stats: Stats): boolean {
    return this.s.stats.run({ handle, lease, ...stats, mem: stats.mem ?? -1 }).changes === 1;
  }

  /**
   * Applies a worker's result once: a second delivery or a stale lease changes nothing. A
   * failed command with retries left (-retry) is not finished but held until its retry is due.
   */
  finish(handle: string, lease: string, result: Result, now: number, jitter: () => number = Math.random): FinishOutcome {
    if (result.exitCode !== 0 && result.exitReason === null) {
      const retried = this.db.transaction(() => {
        const r = this.s.retryOf.get({ handle, lease }) as { retried: number; retry_max: number; retry_codes: string; delay: number | null } | undefined;
        if (!r || r.retried >= r.retry_max) return false;
        const delayS = retryDelayS(r.delay ?? JOB_SPEC_DEFAULTS.retryDelay, r.retried, jitter());
        const codes = JSON.stringify([...(JSON.parse(r.retry_codes) as number[]), result.exitCode]);
        const reason = Reasons.retrying(result.exitCode, r.retried + 1, r.retry_max, delayS);
        return this.s.retryLater.run({ handle, lease, at: now + Math.round(delayS * 1000), codes, reason }).changes === 1;
      })();
      if (retried) return { applied: true, retrying: true };
    }
    const status = result.exitCode === 0 && result.exitReason === null ? Status.done : Status.failed;
    const { mem: _, ...measured } = result;
    const row = this.s.finish.get({ handle, lease, now, status, ...measured }) as JobRow | undefined;
    return row ? { applied: true, job: toView(row) } : { applied: false };
  }

  /** Ends an active job without a worker's result (e.g. killed while its worker is away). */
  failActive(handle: string, exitCode: number, exitReason: string, now: number): JobView | undefined {
    const row = this.s.failActive.get({ handle, exitCode, exitReason, now }) as JobRow | undefined;
    return row && toView(row);
  }

  /** Ends a job that has not started, ready or held (a kill asked of it while queued). */
  failReady(handle: string, exitCode: number, exitReason: string, now: number): JobView | undefined {
    const row = this.s.failReady.get({ handle, exitCode, exitReason, now }) as JobRow | undefined;
    return row && toView(row);
  }

  /**
   * Takes an active job from its worker, if `lease` is still its lease: back to the queue, or
   * to failed when a kill had been asked of it. `lost` (the worker vanished, rather than
   * giving the job back) counts against the job's retries; once they are used up it fails.
   */
  requeue(
    handle: string,
    lease: string,
    now: number,
    lost: { why: string } | null = null,
    neverRan = false,
  ): { requeued: boolean; failed?: JobView } {
    return this.db.transaction(() => {
      // neverRan: its worker says it never had it (an assignment lost with a master killed
      // right after the claim): that attempt did not happen.
      const back = this.s.requeue.get({ handle, lease, lost: lost ? 1 : 0, neverRan: neverRan ? 1 : 0 }) as { class: number | null } | undefined;
      if (back) {
        this.ready.mark(back.class);
        return { requeued: true };
      }
      let row = this.s.failKilled.get({ handle, lease, now }) as JobRow | undefined;
      if (!row && lost) row = this.s.failLost.get({ handle, lease, now, why: lost.why }) as JobRow | undefined;
      return { requeued: false, failed: row && toView(row) };
    })();
  }

  /** Retries that are due by `now` run (ready), up to `limit` of them; returns how many ran. */
  retriesDue(now: number, limit: number): number {
    const rows = this.s.retryDue.all({ now, limit }) as { class: number | null; status: string }[];
    for (const r of rows) if (r.status === Status.ready) this.ready.mark(r.class);
    return rows.length;
  }

  /** Records how much of an ended job's output its log dropped (-logLimit). */
  setLogDropped(handle: string, bytes: number): void {
    this.s.setLogDropped.run({ handle, bytes });
  }

  /** Records that a kill was asked of an active job (the first reason stays). */
  requestKill(handle: string, reason: string): void {
    this.s.requestKill.run({ handle, reason });
  }

  /** Finished jobs go back to ready; others are left alone. Returns the handles changed. */
  rerun(handles: readonly string[]): string[] {
    return this.db.transaction(() =>
      handles.filter((handle) => {
        const back = this.s.rerun.get({ handle }) as { class: number | null } | undefined;
        this.ready.mark(back?.class ?? null);
        return back !== undefined;
      }),
    )();
  }

  delete(handles: readonly string[]): string[] {
    return this.db.transaction(() => handles.filter((handle) => this.s.delete.run({ handle }).changes === 1))();
  }

  get(handle: string): JobView | undefined {
    const row = this.s.get.get(handle) as JobRow | undefined;
    return row && toView(row);
  }

  /** The job's current lease and status, without decoding its spec. */
  leaseOf(handle: string): { lease: string | null; status: JobStatus } | undefined {
    return this.s.leaseOf.get(handle) as { lease: string | null; status: JobStatus } | undefined;
  }

  /** The jobs the table gives a worker, with their leases and any kill asked of them. */
  activeOnWorker(worker: string): (JobView & { lease: string; killReason: string | null })[] {
    return (this.s.activeOf.all(worker) as (JobRow & { kill_reason: string | null })[]).map((r) => ({
      ...toView(r),
      lease: r.lease ?? '',
      killReason: r.kill_reason,
    }));
  }

  active(): (JobView & { lease: string })[] {
    return (this.s.active.all() as JobRow[]).map((r) => ({ ...toView(r), lease: r.lease ?? '' }));
  }

  /** Up to `limit` finished jobs that ended before `cutoff` (ms), oldest first (-keepFinished). */
  finishedBefore(cutoff: number, limit: number): string[] {
    return (this.s.finishedBefore.all({ cutoff, limit }) as { handle: string }[]).map((r) => r.handle);
  }

  /** Jobs in the table, from job_counts (migration 12): a few rows read, not the table. */
  count(): number {
    return (this.s.count.get() as { n: number }).n;
  }

  /** How many jobs each status holds, by queue ('' for none), from job_counts. */
  counts(): JobCount[] {
    return this.s.counts.all() as JobCount[];
  }

  /** Folds the WAL into the main database file (what `-saveState` asks for). */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
}
