// Answers `add`: a batch that stands alone is written at once; the batches of one add of many
// (an addId) are staged until the one marked last, which commits the add and lets its jobs go
// a slice per turn of the event loop (store/adds.ts). A client that goes before its last
// batch leaves nothing behind: its staged jobs are deleted, a slice per turn.
import type { ClientRequest, ClientResponse } from '../protocol/clientMessages.js';
import { AddStates } from '../store/adds.js';
import { ErrorCodes } from '../common/errors.js';
import type { Hub } from './hub.js';

type AddRequest = Extract<ClientRequest, { type: 'add' }>;

/** An add that gets no batch for this long is undone. */
const ADD_IDLE_MS = 120_000;
/** Adds staging on this master, each with the timer that undoes it when idle. */
const openAdds = new Map<string, NodeJS.Timeout>();

export function addJobs(hub: Hub, req: AddRequest, reply: (msg: ClientResponse) => void, scope: { onClose: (fn: () => void) => void }): void {
  const after = req.after ?? [];
  const afterAny = req.afterAny ?? [];
  const jobs = after.length || afterAny.length ? req.jobs.map((j) => ({ ...j, after, afterAny })) : req.jobs;
  const flow = { after, afterAny, hold: req.hold === true };
  const now = hub.clock.now();
  const made = (handles: string[], total: number) => {
    reply({ type: 'added', id: req.id, handles });
    hub.metrics.submitted(total);
    hub.scheduler.kick();
  };
  if (req.addId === undefined) {
    const handles = hub.jobs.insert(jobs, now, flow);
    made(handles, handles.length);
    return;
  }
  const id = req.addId;
  const open = hub.jobs.adds.state(id);
  if (open && open.state !== AddStates.staging) {
    const why = open.state === AddStates.committed ? 'was made already' : 'was undone: its client went, or sent nothing for a while';
    reply({ type: 'error', id: req.id, code: ErrorCodes.BAD_VALUE, message: `add ${id} ${why}` });
    return;
  }
  if (req.last && !open) {
    const handles = hub.jobs.insert(jobs, now, flow, { id, staged: false });
    made(handles, handles.length);
    return;
  }
  const handles = hub.jobs.insert(jobs, now, flow, { id, staged: true });
  // Undone if the connection that sent this goes, or nothing comes for a while (a client
  // whose network went leaves a socket that never closes).
  scope.onClose(() => openAdds.has(id) && abandon(hub, id));
  clearTimeout(openAdds.get(id));
  openAdds.set(id, setTimeout(() => abandon(hub, id), ADD_IDLE_MS).unref());
  if (!req.last) {
    reply({ type: 'added', id: req.id, handles });
    return;
  }
  clearTimeout(openAdds.get(id));
  openAdds.delete(id);
  if (!hub.jobs.adds.commit(id)) {
    reply({ type: 'error', id: req.id, code: ErrorCodes.BAD_VALUE, message: `add ${id} was undone before its last batch came` });
    return;
  }
  const total = hub.jobs.adds.state(id)?.jobs ?? handles.length;
  letGo(hub, id, () => made(handles, total));
}

/** Makes a committed add's jobs ready, a slice per turn, then `done`. */
function letGo(hub: Hub, id: string, done: () => void): void {
  const step = () => {
    let n: number;
    try {
      n = hub.jobs.adds.letGoSlice(id);
    } catch (e) {
      // Committed: a master that opens again finishes it too; here it tries again shortly.
      hub.log.warn(`Making the jobs of add ${id} ready failed: ${(e as Error).message}; trying again`);
      setTimeout(step, 1000).unref();
      return;
    }
    if (n === 0) return done();
    hub.scheduler.kick();
    setImmediate(step);
  };
  step();
}

/** The client went: an add it had not finished is undone. */
function abandon(hub: Hub, id: string): void {
  clearTimeout(openAdds.get(id));
  openAdds.delete(id);
  // From here it takes no batch and no commit, whichever connection sends them.
  if (!hub.jobs.adds.abandon(id)) return;
  let dropped = 0;
  const step = () => {
    let n: number;
    try {
      n = hub.jobs.adds.dropSlice(id);
    } catch (e) {
      hub.log.warn(`Undoing add ${id} failed: ${(e as Error).message}; a master that opens again undoes it`);
      return;
    }
    dropped += n;
    if (n > 0) setImmediate(step);
    else hub.log(`Undid an add whose client went before its last part: ${dropped} jobs removed`);
  };
  step();
}
