// Jobs held by the user, on the master: -hold and -release. Jobs that wait for others are
// the store's (store/dependencies.ts): added by the add request, settled from lifecycle.ts.
import type { JobView } from '../protocol/jobState.js';
import type { Hub } from './hub.js';

/** -hold: ready or waiting jobs are not to be claimed. Returns the handles held. */
export function holdJobs(hub: Hub, matched: readonly JobView[]): string[] {
  return matched.filter((j) => hub.jobs.deps.hold(j.handle)).map((j) => j.handle);
}

/** -release: held jobs run (once what they wait for, if anything, is done). Returns the handles released. */
export function releaseJobs(hub: Hub, matched: readonly JobView[]): string[] {
  const released = matched.filter((j) => hub.jobs.deps.release(j.handle)).map((j) => j.handle);
  if (released.length) hub.scheduler.kick();
  return released;
}
