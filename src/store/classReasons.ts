// Why the ready jobs of a requirement class wait, when no connected worker could take them
// (master/waitReasons.ts decides; this keeps it): one row per class that has such a reason,
// written only when it changes. A listing shows it in place of a ready job's exit reason.
import type { Db } from './db.js';

/**
 * A listed job's exit reason: a ready job's is its class's wait reason, if any. Qualified, so
 * that it reads the same inside a join.
 */
export const EXIT_REASON_SQL =
  `CASE WHEN jobs.status = 'ready' THEN (SELECT reason FROM class_reasons WHERE class_reasons.class = jobs.class) ELSE jobs.exit_reason END AS exit_reason`;

export class ClassReasons {
  private readonly s;
  /** What the table holds, so that an unchanged reason costs no write. */
  private readonly held = new Map<number, string>();

  constructor(private readonly db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      set: p(`INSERT INTO class_reasons (class, reason) VALUES (?, ?) ON CONFLICT (class) DO UPDATE SET reason = excluded.reason`),
      clear: p(`DELETE FROM class_reasons WHERE class = ?`),
      clearAll: p(`DELETE FROM class_reasons`),
    };
    // Who is connected is not known at open: the reasons of before are not current.
    this.s.clearAll.run();
  }

  /** Sets the reasons of these classes (null: none); returns how many rows changed. */
  update(reasons: ReadonlyMap<number, string | null>): number {
    const changed = [...reasons].filter(([id, why]) => (this.held.get(id) ?? null) !== why);
    if (changed.length === 0) return 0;
    this.db.transaction(() => {
      for (const [id, why] of changed) {
        if (why === null) {
          this.s.clear.run(id);
          this.held.delete(id);
        } else {
          this.s.set.run(id, why);
          this.held.set(id, why);
        }
      }
    })();
    return changed.length;
  }

  /** Classes that hold a reason now (one no longer in question is cleared by update). */
  classes(): number[] {
    return [...this.held.keys()];
  }
}
