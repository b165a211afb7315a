// Answers client requests. Each handler commits before it answers, so an acknowledged
// change survives a master that is killed right after.
import type { JobView } from '../protocol/jobState.js';
import { type ClientRequest, type ClientResponse } from '../protocol/clientMessages.js';
import { FINISHED_STATUSES } from '../store/jobs.js';
import type { Hub } from './hub.js';
import { deleteJobs, killJobs, rerunJobs } from './lifecycle.js';
import { sendLog } from './logStream.js';
import { actOnPages, countMatching, onePage, streamListing, streamRows, type Backlog } from './listing.js';
import type { ListRow } from '../protocol/listRow.js';
import { holdJobs, releaseJobs } from './workflow.js';
import { ErrorCodes } from '../common/errors.js';
import { addJobs } from './adding.js';

export type Reply = (msg: ClientResponse) => void;

/** Open `-log -follow` streams end when the client goes away. */
export interface ClientScope extends Backlog {
  onClose: (fn: () => void) => void;
  /** Sends a `jobRows` answer around rows the store wrote as JSON (codec.ts encodeJobRows). */
  sendRows: (id: number, rowsJson: string, last: boolean) => void;
}

export function handleRequest(hub: Hub, req: ClientRequest, reply: Reply, scope: ClientScope): void {
  switch (req.type) {
    case 'add':
      addJobs(hub, req, reply, scope);
      return;
    case 'addState': {
      // (an abandoned add's jobs are being deleted: for the client, as if never made)
      const a = hub.jobs.adds.state(req.addId);
      const state = a?.state === 'staging' || a?.state === 'committed' ? a.state : 'unknown';
      reply({ type: 'addState', id: req.id, state, jobs: state === 'unknown' ? 0 : a!.jobs });
      return;
    }
    case 'list': {
      const failed = (e: Error) => reply({ type: 'error', id: req.id, code: ErrorCodes.STORE, message: e.message });
      if (req.rows === true) {
        const sink = {
          json: (rowsJson: string, last: boolean) => scope.sendRows(req.id, rowsJson, last),
          rows: (rows: ListRow[], last: boolean) => reply({ type: 'jobRows', id: req.id, rows, last }),
          failed,
        };
        streamRows(hub, req.specs, sink, scope);
        return;
      }
      if (req.page === true) {
        streamListing(hub, req.specs, { page: (jobs, last) => reply({ type: 'jobsPage', id: req.id, jobs, last }), failed }, scope);
        return;
      }
      // A client of before pages: one answer, still read a page a turn.
      const jobs: JobView[] = [];
      const page = (part: JobView[], last: boolean) => {
        jobs.push(...part);
        if (last) reply({ type: 'jobs', id: req.id, jobs });
      };
      streamListing(hub, req.specs, { page, failed }, { buffered: () => (scope.buffered() === Infinity ? Infinity : 0) });
      return;
    }
    case 'kill':
    case 'delete':
    case 'rerun':
    case 'hold':
    case 'release': {
      const handles: string[] = [];
      let matched = 0;
      const act = (jobs: JobView[]): Promise<void> | void => {
        matched += jobs.length;
        if (req.type === 'kill') handles.push(...killJobs(hub, jobs, req.queued));
        else if (req.type === 'delete') {
          handles.push(...deleteJobs(hub, jobs));
          // The next page once these logs are gone: the answer means they are, and a delete
          // of a million jobs never queues a million removals.
          return hub.logs.settled();
        }
        else if (req.type === 'rerun') handles.push(...rerunJobs(hub, jobs));
        else if (req.type === 'hold') handles.push(...holdJobs(hub, jobs));
        else handles.push(...releaseJobs(hub, jobs));
      };
      const end = () => reply({ type: 'affected', id: req.id, handles, matched });
      actOnPages(hub, req.specs, act, end, (e) => reply({ type: 'error', id: req.id, code: ErrorCodes.STORE, message: e.message }));
      return;
    }
    case 'clearWorkers': {
      const n = hub.workers.forgetAway();
      reply({ type: 'ok', id: req.id, message: `Removed ${n} workers that were away; connected ones stay` });
      return;
    }
    case 'resetWorkers': {
      const named = req.handles.length ? req.handles.map((h) => hub.workers.get(h)).filter((s) => s !== undefined) : hub.workers.connected();
      const told = named.filter((s) => hub.workers.send(s, { type: 'resetScratch' }));
      for (const s of told) s.pendingAction = 'clear';
      reply({ type: 'ok', id: req.id, message: `${told.length} workers to be cleared` });
      return;
    }
    case 'workers':
      reply({ type: 'workerList', id: req.id, workers: hub.workers.views(), now: hub.clock.now(), ...(hub.autoscale ? { autoscale: hub.autoscale.status } : {}) });
      return;
    case 'log': {
      const job = hub.jobs.get(req.handle);
      if (!job) {
        reply({ type: 'error', id: req.id, code: ErrorCodes.NOT_FOUND, message: `no job ${req.handle}` });
        return;
      }
      const stillRunning = !FINISHED_STATUSES.includes(job.status);
      const sink = { data: (chunk: Buffer) => reply({ type: 'logData', id: req.id, data: chunk.toString('base64') }), buffered: scope.buffered };
      const range = { ...(req.head ? { head: req.head } : {}), ...(req.tail ? { tail: req.tail } : {}) };
      if (!req.follow || !stillRunning || req.head) {
        void sendLog(hub.logs.snapshot(req.handle), sink, range).then(() => reply({ type: 'logEnd', id: req.id, status: job.status }));
        return;
      }
      // What comes while the file's part is being sent waits, in order, until it has gone.
      let caughtUp = false;
      const later: (() => void)[] = [];
      const sub = hub.logs.follow(req.handle, {
        data: (chunk) => (caughtUp ? sink.data(chunk) : later.push(() => sink.data(chunk))),
        end: (status) => {
          const end = () => reply({ type: 'logEnd', id: req.id, status: status as JobView['status'] | 'deleted' });
          if (caughtUp) end();
          else later.push(end);
        },
      });
      scope.onClose(sub.stop);
      void sendLog(sub.existing, sink, range).then(() => {
        caughtUp = true;
        for (const f of later.splice(0)) f();
      });
      return;
    }
    case 'saveState': {
      const n = hub.jobs.count();
      hub.jobs.checkpoint();
      reply({ type: 'ok', id: req.id, message: `Saved ${n} jobs to state` });
      return;
    }
    case 'rowPage': {
      const page = onePage(hub, req.specs, req.from, req.limit, req.newest);
      reply({ type: 'rowPage', id: req.id, rows: page.rows, next: page.next });
      return;
    }
    case 'count':
      countMatching(hub, req.specs, (n) => reply({ type: 'count', id: req.id, n }), (e) => reply({ type: 'error', id: req.id, code: ErrorCodes.STORE, message: e.message }));
      return;
    case 'counts':
      reply({ type: 'counts', id: req.id, counts: hub.jobs.counts() });
      return;
    case 'history':
      reply({ type: 'history', id: req.id, points: hub.history.read() });
      return;
    case 'dashboardLogin': {
      if (!hub.dashboard) {
        reply({ type: 'error', id: req.id, code: ErrorCodes.NOT_SUPPORTED, message: 'the dashboard is off on this master (-dashboard false)' });
        return;
      }
      reply({ type: 'loginCode', id: req.id, ...hub.dashboard.mintCode() });
      return;
    }
    case 'shutdown':
      reply({ type: 'ok', id: req.id, message: 'Server is shutting down' });
      hub.shutdown();
      return;
  }
}
