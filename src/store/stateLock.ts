// One master per state directory. Two masters on one database would each take the other's
// workers for lost and run every job twice. The lock is SQLite's own (an fcntl lock on
// STATE/master.lock, held in exclusive locking mode for the life of the connection): the
// operating system drops it when the process ends, however it ends, so no stale lock is ever
// left to clear by hand. The holder's pid is written beside it for the refusal message.
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, QError } from '../common/errors.js';

export interface StateLock {
  release(): void;
}

export function lockState(dir: string): StateLock {
  const db = new Database(join(dir, 'master.lock'));
  db.pragma('busy_timeout = 0');
  db.pragma('locking_mode = EXCLUSIVE');
  try {
    // The first write in exclusive mode takes the lock and keeps it.
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder;');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
    let pid = '?';
    try {
      pid = readFileSync(join(dir, 'master.pid'), 'utf8').trim();
    } catch {
      // written a moment after the lock
    }
    throw new QError(ErrorCodes.BAD_VALUE, `another master (pid ${pid}) is using the state directory ${dir}: stop it first, or give this one its own -state`);
  }
  writeFileSync(join(dir, 'master.pid'), `${process.pid}\n`);
  return { release: () => db.close() };
}
