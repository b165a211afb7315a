// Opens the master's SQLite database and brings its schema up to date.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  /**
   * FULL fsyncs the WAL on every commit (survives power loss); NORMAL survives a killed
   * process, which is what `kill -9` of the master needs, at a fraction of the cost.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** Bytes the WAL file is cut back to after a checkpoint (default WAL_SIZE_LIMIT). */
  walSizeLimit?: number;
}

/**
 * SQLite checkpoints the WAL every 1,000 pages by itself, and then reuses the file from its
 * start, but never shrinks it: one add of 100,000 jobs would leave a WAL of that size for
 * good. Past a checkpoint it is cut back to this: above what a bulk add leaves in it (the
 * catch-up at 8,192 frames, 32 MB, plus a pass of the checkpoint thread), so that the WAL's
 * restarts under load do not each truncate it inside a commit. At 32 MB they did: a million
 * jobs were added in 38-45 s, against 33-37 s now (the longest stall did not change beyond
 * this machine's noise).
 */
export const WAL_SIZE_LIMIT = 128 * 1024 * 1024;

export function openDb(path: string, opts: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`journal_size_limit = ${opts.walSizeLimit ?? WAL_SIZE_LIMIT}`);
  // Another process (a backup, a second master by mistake) may hold the lock. A short wait
  // rides out a brief hold; a long one must not stall the master, whose event loop waits
  // with it: the write fails instead and its caller is told.
  db.pragma('busy_timeout = 250');
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`database schema ${current} is newer than this q (${migrations.length})`);
  }
  for (let i = current; i < migrations.length; i++) {
    db.transaction(() => {
      db.exec(migrations[i]!);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}
