// -resetWorkers on the worker: its basePath emptied, as fig's q did, of the inputs and working
// directories earlier jobs left, but not of q's own records (`.q`). Only ever inside basePath:
// a link there goes, never what it points to.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The directory where the worker keeps its own records, under basePath. */
export const RECORDS_DIR = '.q';

/** Removes everything under `basePath` but its records; returns how many entries went. */
export function emptyScratch(basePath: string): number {
  let removed = 0;
  for (const name of readdirSync(basePath)) {
    if (name === RECORDS_DIR) continue;
    rmSync(join(basePath, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
