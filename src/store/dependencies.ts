// Jobs that wait for other jobs (-after, -afterAny), and jobs held by the user (-hold).
//
// A job waits while any of its job_deps rows is not met: `waiting` counts them, and its status
// is `held` (never claimed: the pick reads only ready jobs) while it waits or while the user
// holds it (`hold`). When a job ends, the rows that name it are settled in one pass:
//
//   it ended done with 0, or the row is -afterAny ──▶ met; waiting - 1; at 0 (and not held) ──▶ ready
//   it failed or was deleted, and the row is -after ──▶ the waiting job fails ("Dependency J-… failed"),
//                                                      and the same is done for the jobs that wait for it
//
// A row is never unmet again: -rerun of a done job does not hold back what already ran after
// it. -rerun of a failed job puts the jobs that failed because of it back to waiting (their
// row for it was never met), and so on down the chain.
import type { Db } from './db.js';
import type { JobView } from '../protocol/jobState.js';
import { ExitCodes, Reasons } from '../common/outcomes.js';
import type { ReadyClasses } from './readyClasses.js';
import { toView, type JobRow } from './jobRow.js';

/** What jobs added together wait for, worked out once before they are inserted. */
export interface WaitPlan {
  deps: { seq: number; any: boolean; met: boolean }[];
  /** Rows not met yet. */
  waiting: number;
  /** A job of `-after` that has already failed: the new jobs fail at once. */
  failedBy: string | null;
  /** What -list says while they wait. */
  reason: string | null;
}

/** How an ended job settled the jobs that waited for it. */
export interface Settled {
  /** Jobs that now run (back to ready). */
  released: number;
  /** Jobs that failed because a job they waited for failed, transitively. */
  failed: JobView[];
}

const SHOWN = 5;

/** `after J-a J-b` (the first few, then how many more). */
export function waitReason(handles: readonly string[]): string {
  const shown = handles.slice(0, SHOWN).join(' ');
  return handles.length > SHOWN ? `after ${shown} and ${handles.length - SHOWN} more` : `after ${shown}`;
}

export class Dependencies {
  private readonly s;

  constructor(
    db: Db,
    private readonly ready: ReadyClasses,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      lookup: p(`SELECT seq, status, exit_code, add_id FROM jobs WHERE handle = ?`),
      link: p(`INSERT OR IGNORE INTO job_deps (dep, seq, any, met) VALUES (@dep, @seq, @any, @met)`),
      unmet: p(`SELECT seq, any FROM job_deps WHERE dep = ? AND met = 0`),
      meet: p(`UPDATE job_deps SET met = 1 WHERE dep = @dep AND seq = @seq`),
      countDown: p(`UPDATE jobs SET waiting = waiting - 1 WHERE seq = ? RETURNING waiting, hold, status`),
      release: p(`UPDATE jobs SET status = 'ready', exit_reason = NULL WHERE seq = ? AND status = 'held' RETURNING class`),
      fail: p(`UPDATE jobs SET status = 'failed', finished_at = @now, exit_code = ${ExitCodes.NOT_PROVIDED}, exit_reason = @reason
               WHERE seq = @seq AND status = 'held' RETURNING *`),
      failedBecause: p(`SELECT jobs.seq, jobs.handle FROM job_deps JOIN jobs USING (seq)
                        WHERE job_deps.dep = @dep AND job_deps.met = 0 AND jobs.status = 'failed' AND jobs.exit_reason = @reason`),
      rewait: p(`UPDATE jobs SET status = 'held', finished_at = NULL, exit_code = NULL,
                   exit_reason = CASE WHEN hold = 1 THEN @held ELSE wait_reason END
                 WHERE seq = @seq AND status = 'failed'`),
      hold: p(`UPDATE jobs SET hold = 1, status = 'held', exit_reason = '${Reasons.held}'
               WHERE handle = ? AND status IN ('ready', 'held') AND hold = 0`),
      // A job held while it waited for its retry waits on for it (the retry timer frees it).
      unhold: p(`UPDATE jobs SET hold = 0,
                   status = CASE WHEN waiting > 0 OR retry_at IS NOT NULL THEN 'held' ELSE 'ready' END,
                   exit_reason = CASE WHEN waiting > 0 THEN wait_reason WHEN retry_at IS NOT NULL THEN '${Reasons.retryPending}' ELSE NULL END
                 WHERE handle = ? AND status = 'held' AND hold = 1
                 RETURNING class, status`),
    };
  }

  /** What jobs that wait for `after` (done with 0) and `afterAny` (ended) wait for now. */
  plan(after: readonly string[], afterAny: readonly string[]): WaitPlan {
    const deps: WaitPlan['deps'] = [];
    let failedBy: string | null = null;
    let missing: string | null = null;
    const waitingFor: string[] = [];
    // A job named by both waits for it once, as -after (job_deps holds one row per pair).
    const strict = new Set(after);
    for (const [handles, any] of [[after, false], [afterAny.filter((h) => !strict.has(h)), true]] as const) {
      for (const handle of handles) {
        const row = this.s.lookup.get(handle) as { seq: number; status: string; exit_code: number | null; add_id: string | null } | undefined;
        // Such a job may yet be undone, with nothing to tell the jobs that waited for it.
        if (row && row.add_id !== null) throw new Error(`${handle} is part of an add still arriving: wait for it with -after once that add is made`);
        if (!row) {
          if (!any) missing ??= handle; // deleted since it was resolved: as if it had failed, below
          continue;
        }
        const ended = row.status === 'done' || row.status === 'failed';
        const met = ended && (any || (row.status === 'done' && row.exit_code === 0));
        if (ended && !met) failedBy ??= handle;
        if (!met) waitingFor.push(handle);
        deps.push({ seq: row.seq, any, met });
      }
    }
    failedBy ??= missing;
    const waiting = deps.filter((d) => !d.met).length;
    return { deps, waiting, failedBy, reason: waiting > 0 ? waitReason(waitingFor) : null };
  }

  /** Records what the job `seq` waits for (inside the insert's transaction). */
  link(seq: number, plan: WaitPlan): void {
    for (const d of plan.deps) this.s.link.run({ dep: d.seq, seq, any: d.any ? 1 : 0, met: d.met ? 1 : 0 });
  }

  /**
   * The job `handle` ended (`ok`: done with 0) or is being deleted (`ok` false): settles every
   * job that waits for it, and those that wait for the ones that fail, in one pass.
   */
  ended(handle: string, ok: boolean, now: number): Settled {
    const settled: Settled = { released: 0, failed: [] };
    const row = this.s.lookup.get(handle) as { seq: number } | undefined;
    if (!row) return settled;
    const queue: { seq: number; handle: string; ok: boolean }[] = [{ seq: row.seq, handle, ok }];
    for (let next = queue.pop(); next; next = queue.pop()) {
      for (const d of this.s.unmet.all(next.seq) as { seq: number; any: number }[]) {
        if (next.ok || d.any === 1) {
          this.s.meet.run({ dep: next.seq, seq: d.seq });
          const left = this.s.countDown.get(d.seq) as { waiting: number; hold: number; status: string } | undefined;
          if (left && left.waiting <= 0 && left.hold === 0 && left.status === 'held') {
            const back = this.s.release.get(d.seq) as { class: number | null } | undefined;
            if (back) {
              this.ready.mark(back.class);
              settled.released++;
            }
          }
          continue;
        }
        const row = this.s.fail.get({ seq: d.seq, now, reason: Reasons.dependencyFailed(next.handle) }) as JobRow | undefined;
        if (!row) continue; // already ended (killed, failed by another of its jobs)
        settled.failed.push(toView(row));
        queue.push({ seq: row.seq, handle: row.handle, ok: false });
      }
    }
    return settled;
  }

  /** The failed job `handle` runs again: the jobs that failed because of it wait again, down the chain. */
  rerun(handle: string): void {
    const row = this.s.lookup.get(handle) as { seq: number } | undefined;
    if (!row) return;
    const queue = [{ seq: row.seq, handle }];
    for (let next = queue.pop(); next; next = queue.pop()) {
      const again = this.s.failedBecause.all({ dep: next.seq, reason: Reasons.dependencyFailed(next.handle) }) as { seq: number; handle: string }[];
      for (const d of again) {
        this.s.rewait.run({ seq: d.seq, held: Reasons.held });
        queue.push(d);
      }
    }
  }

  /** -hold: true if the job was ready (or waiting) and is now held. */
  hold(handle: string): boolean {
    return this.s.hold.run(handle).changes === 1;
  }

  /** -release: true if the job was held by the user; it runs unless it still waits for jobs. */
  release(handle: string): boolean {
    const r = this.s.unhold.get(handle) as { class: number | null; status: string } | undefined;
    if (r?.status === 'ready') this.ready.mark(r.class);
    return r !== undefined;
  }
}
