// A worker's default handle: short hostname + `-` + 2 random characters, chosen once per
// machine and scratch base and then kept (BASE/.q/handle-HOST), so that a restarted worker is
// the same worker to the master and finds the containers it left.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomSuffix } from '../common/ids.js';

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
