// One master per state directory. Two masters on one database would each take the other's
// workers for lost and run every job twice (common/dirLock.ts holds the lock).
import { lockDir, type DirLock } from '../common/dirLock.js';

export type StateLock = DirLock;

export function lockState(dir: string): StateLock {
  return lockDir(dir, 'master', String(process.pid), (pid) => `another master (pid ${pid}) is using the state directory ${dir}: stop it first, or give this one its own -state`);
}
