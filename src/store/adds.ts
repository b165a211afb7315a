// An add of many batches is one thing: after a master killed at any moment there is every job
// of it or none, and an add whose answer was lost can be asked about by its id.
//
// A client sends a big add as batches (each a short transaction, so the master goes on
// answering everyone else), all under one add id. The jobs of a batch that is not the last
// are written staged: add_id set and `waiting` one higher (the add itself is one more thing
// they wait for), so that nothing runs them, a -release included. The last batch commits:
//
//   staging ──(last batch: the add row says committed, one row)──▶ committed
//      │                                                              │
//      │ the client went, or sent nothing for a while                 │ let go a slice at a time:
//      ▼                                                              ▼ waiting - 1, add_id cleared
//   abandoned: takes no batch; its jobs deleted a slice at a time  (finished at open if cut short)
//   (a master that stopped before the commit deletes them at open)
//
// A staged job cannot be rerun, nor waited for with -after: it may yet be deleted.
//
// The add rows stay a day, so that a client that lost its answer can ask how the add ended.
import type { Db } from './db.js';
import type { ReadyClasses } from './readyClasses.js';
import { Reasons } from '../common/outcomes.js';

export const AddStates = { staging: 'staging', committed: 'committed', abandoned: 'abandoned' } as const;
export type AddState = (typeof AddStates)[keyof typeof AddStates];

/** Jobs let go or deleted per transaction: a slice holds the master's thread a few ms. */
export const ADD_SLICE = 2000;
/** How long an add is remembered for a client asking about it. */
const KEEP_ADDS_MS = 24 * 3600 * 1000;
/** Adds between two prunes of the remembered ones. */
const PRUNE_EVERY = 1024;

export class Adds {
  private readonly s;
  private notes = 0;

  constructor(
    private readonly db: Db,
    private readonly ready: ReadyClasses,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      staged: p(`INSERT INTO adds (id, state, jobs, created_at) VALUES (@id, '${AddStates.staging}', @n, @now)
                 ON CONFLICT (id) DO UPDATE SET jobs = jobs + @n WHERE state = '${AddStates.staging}'`),
      get: p(`SELECT state, jobs FROM adds WHERE id = ?`),
      commit: p(`UPDATE adds SET state = '${AddStates.committed}' WHERE id = ? AND state = '${AddStates.staging}'`),
      committedOnce: p(`INSERT INTO adds (id, state, jobs, created_at) VALUES (@id, '${AddStates.committed}', @n, @now)`),
      // The add was one more thing its jobs waited for: gone, each runs when nothing else holds it.
      letGo: p(`UPDATE jobs SET add_id = NULL, waiting = waiting - 1,
                  status = CASE WHEN status <> 'held' THEN status WHEN hold = 1 OR waiting > 1 THEN 'held' ELSE 'ready' END,
                  exit_reason = CASE WHEN status <> 'held' THEN exit_reason WHEN hold = 1 THEN '${Reasons.held}'
                                     WHEN waiting > 1 THEN wait_reason ELSE NULL END
                WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_add WHERE add_id = @id LIMIT @limit)
                RETURNING class, status`),
      drop: p(`DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_add WHERE add_id = @id LIMIT @limit)`),
      forget: p(`DELETE FROM adds WHERE id = ?`),
      abandon: p(`UPDATE adds SET state = '${AddStates.abandoned}' WHERE id = ? AND state = '${AddStates.staging}'`),
      open: p(`SELECT id, state FROM adds WHERE state <> '${AddStates.committed}' OR id IN (SELECT DISTINCT add_id FROM jobs INDEXED BY jobs_add WHERE add_id IS NOT NULL)`),
      prune: p(`DELETE FROM adds WHERE created_at < ? AND state = '${AddStates.committed}'`),
    };
  }

  /** A staged batch of `n` jobs was written (inside the batch's transaction). */
  noteStaged(id: string, n: number, now: number): void {
    if (this.s.staged.run({ id, n, now }).changes !== 1) throw new Error(`add ${id} is no longer open`);
  }

  /** An add of one batch, written at once: remembered as committed for a client asking later. */
  noteCommittedOnce(id: string, n: number, now: number): void {
    this.s.committedOnce.run({ id, n, now });
    // A master that runs for months forgets old adds as it goes, a few at a time.
    if (++this.notes % PRUNE_EVERY === 0) this.s.prune.run(now - KEEP_ADDS_MS);
  }

  state(id: string): { state: AddState; jobs: number } | null {
    return (this.s.get.get(id) as { state: AddState; jobs: number } | undefined) ?? null;
  }

  /** The last batch arrived: from here the add has happened, whatever stops. */
  commit(id: string): boolean {
    return this.s.commit.run(id).changes === 1;
  }

  /** Lets one slice of a committed add's jobs go; returns how many it let go (0: all were). */
  letGoSlice(id: string, limit = ADD_SLICE): number {
    const rows = this.db.transaction(() => this.s.letGo.all({ id, limit }) as { class: number | null; status: string }[])();
    for (const r of rows) if (r.status === 'ready') this.ready.mark(r.class);
    return rows.length;
  }

  /** The add will not be made: it takes no more batches and no commit. False if it was not staging. */
  abandon(id: string): boolean {
    return this.s.abandon.run(id).changes === 1;
  }

  /** Deletes one slice of an abandoned add's jobs; forgets the add once none is left. */
  dropSlice(id: string, limit = ADD_SLICE): number {
    return this.db.transaction(() => {
      const n = this.s.drop.run({ id, limit }).changes;
      if (n === 0) this.s.forget.run(id);
      return n;
    })();
  }

  /**
   * At open: adds cut short by a stop are finished (committed: their jobs let go) or undone
   * (staging: their jobs deleted), and adds older than a day forgotten.
   */
  recover(now: number): { letGo: number; dropped: number } {
    let letGo = 0;
    let dropped = 0;
    for (const a of this.s.open.all() as { id: string; state: AddState }[]) {
      if (a.state === AddStates.committed) for (let n; (n = this.letGoSlice(a.id, 50_000)) > 0; ) letGo += n;
      else for (let n; (n = this.dropSlice(a.id, 50_000)) > 0; ) dropped += n;
    }
    this.s.prune.run(now - KEEP_ADDS_MS);
    return { letGo, dropped };
  }
}
