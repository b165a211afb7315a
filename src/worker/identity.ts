// A worker's default handle: short hostname + `-` + 2 random characters, chosen once per
// machine and scratch base and then kept (BASE/.q/handle-HOST), so that a restarted worker is
// the same worker to the master and finds the containers it left. And the lock that keeps a
// second worker off a scratch base in use.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomSuffix } from '../common/ids.js';
import { lockDir, type DirLock } from '../common/dirLock.js';

export function defaultHandle(basePath: string, hostname: string): string {
  const short = hostname.split('.')[0] || 'worker';
  // Per host: a scratch base on a shared file system must not give two machines one name.
  const file = join(basePath, '.q', `handle-${short}`);
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (/^[\w.-]{1,200}$/.test(kept)) return kept;
  } catch {
    // first start here
  }
  const handle = `${short}-${randomSuffix()}`;
  try {
    mkdirSync(join(basePath, '.q'), { recursive: true });
    writeFileSync(file, handle + '\n');
  } catch {
    // an unwritable base: the name lasts as long as this process
  }
  return handle;
}

/**
 * One worker per scratch base: two would share one mirror and one set of records (each would
 * sweep the other's job files as not its own), and with the default handle push each other off
 * the master as one worker reconnecting. The second is refused, naming the first.
 */
export function lockBase(basePath: string, handle: string, hostname: string): DirLock {
  return lockDir(
    join(basePath, '.q'),
    'worker',
    `worker ${handle}, pid ${process.pid} on ${hostname}`,
    (holder) => `another worker (${holder}) is using the basePath ${basePath}: stop it, or give this one its own -basePath`,
  );
}
