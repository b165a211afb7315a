// One process of a kind per directory: one master per state directory, one worker per
// scratch base. The lock is SQLite's own (an fcntl lock on DIR/NAME.lock, held in exclusive
// locking mode for the life of the connection): the operating system drops it when the
// process ends, however it ends, so no stale lock is ever left to clear by hand. A line about
// the holder (its pid, and what else the caller says of it) is written beside it for the
// refusal message.
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, QError } from './errors.js';

export interface DirLock {
  release(): void;
}

/**
 * Takes DIR/NAME.lock or throws a QError made by `refusal` from what the holder wrote of
 * itself (`?` while it has not yet). `about`: what this process writes of itself.
 */
export function lockDir(dir: string, name: string, about: string, refusal: (holder: string) => string): DirLock {
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, `${name}.lock`));
  db.pragma('busy_timeout = 0');
  db.pragma('locking_mode = EXCLUSIVE');
  try {
    // The first write in exclusive mode takes the lock and keeps it.
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder;');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
    let holder = '?';
    try {
      holder = readFileSync(join(dir, `${name}.pid`), 'utf8').trim();
    } catch {
      // written a moment after the lock
    }
    throw new QError(ErrorCodes.BAD_VALUE, refusal(holder));
  }
  writeFileSync(join(dir, `${name}.pid`), `${about}\n`);
  return { release: () => db.close() };
}
