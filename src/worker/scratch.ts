// -resetWorkers on the worker: its basePath emptied, as fig's q did, of the inputs and working
// directories earlier jobs left, but not of q's own records (`.q`). Only ever inside basePath:
// a link there goes, never what it points to.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MIRROR_DIR, mirrorRoot, RECORDS_DIR } from './jobFiles.js';

/**
 * Removes everything in the mirror, and whatever else lies beside the records (what a version
 * that mirrored at the scratch base itself left); returns how many entries went.
 */
export function emptyScratch(basePath: string): number {
  let removed = 0;
  const mirror = mirrorRoot(basePath);
  mkdirSync(mirror, { recursive: true });
  for (const [dir, name] of [
    ...readdirSync(mirror).map((n) => [mirror, n] as const),
    ...readdirSync(basePath).map((n) => [basePath, n] as const),
  ]) {
    if (dir === basePath && (name === RECORDS_DIR || name === MIRROR_DIR)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
