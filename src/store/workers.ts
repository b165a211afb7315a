// The worker table: what each worker last told the master, so `-w` can show workers that are
// away, and how long ago they were seen, after a master restart too.
import type { Db } from './db.js';

export interface WorkerRecord {
  handle: string;
  info: string; // JSON the master writes and reads back; the store does not look inside
  lastSeen: number;
}

export class WorkerStore {
  private readonly upsertStmt;
  private readonly allStmt;
  private readonly handlesStmt;
  private readonly deleteStmt;

  constructor(private readonly db: Db) {
    this.upsertStmt = db.prepare(
      `INSERT INTO workers (handle, info, last_seen) VALUES (@handle, @info, @lastSeen)
       ON CONFLICT(handle) DO UPDATE SET info = excluded.info, last_seen = excluded.last_seen`,
    );
    this.allStmt = db.prepare(`SELECT handle, info, last_seen AS lastSeen FROM workers ORDER BY handle`);
    this.handlesStmt = db.prepare(`SELECT handle FROM workers`).pluck();
    this.deleteStmt = db.prepare(`DELETE FROM workers WHERE handle = ?`);
  }

  save(rec: WorkerRecord): void {
    this.upsertStmt.run(rec);
  }

  /** Many at once, one transaction. */
  saveAll(recs: readonly WorkerRecord[]): void {
    this.db.transaction(() => {
      for (const r of recs) this.upsertStmt.run(r);
    })();
  }

  all(): WorkerRecord[] {
    return this.allStmt.all() as WorkerRecord[];
  }

  /** Every worker's handle, nothing else (what a count of those away needs). */
  handles(): string[] {
    return this.handlesStmt.all() as string[];
  }

  forget(handle: string): void {
    this.deleteStmt.run(handle);
  }
}
