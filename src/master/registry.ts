// The workers the master knows: live sessions (socket, slots, jobs held) and what each last
// reported. The job table says which jobs a worker holds; this is the fast in-memory view the
// scheduler reads on every assignment.
import type { WebSocket } from 'ws';
import type { MasterToWorker } from '../protocol/workerMessages.js';
import type { Resources, WorkerView } from '../protocol/resources.js';
import { encode } from '../protocol/codec.js';
import type { WorkerStore } from '../store/workers.js';
import type { ChunkPump } from '../files/pump.js';
import { silentLog, traceLine, type Log } from '../common/verbosity.js';

/** What /metrics shows of the workers: the connected ones' slots, and how many others are known. */
export interface WorkerCensus {
  connected: { handle: string; slots: number; busy: number }[];
  away: number;
}

/** What a job holds of its worker while it is there. */
export interface Reservation {
  lease: string;
  mem: number;
  cpus: number;
  gpus: number;
}

export interface WorkerSession {
  handle: string;
  socket: WebSocket | null;
  slots: number;
  maxTime: number | null;
  resources: Resources;
  lastSeen: number;
  /** Files on their way to this worker. */
  pump: ChunkPump;
  /** lease → the input files its manifest listed: the only files that worker may fetch for it. */
  inputs: Map<string, Set<string>>;
  /** handle → lease of every job this worker holds, with the MB each reserves. */
  jobs: Map<string, Reservation>;
  /** What it was told and has not done yet (`clear`: -resetWorkers), for -w. */
  pendingAction?: string;
  /** It said it is leaving for good: forgotten once it has gone. */
  leaving?: boolean;
}

/** Whether the worker holds this job under this lease: the one check every job event passes. */
export function holds(s: Pick<WorkerSession, 'jobs'>, handle: string, lease: string): boolean {
  return s.jobs.get(handle)?.lease === lease;
}

/** The worker no longer holds this job under this lease. */
export function release(s: Pick<WorkerSession, 'jobs'>, handle: string, lease: string): void {
  if (holds(s, handle, lease)) s.jobs.delete(handle);
}

export class WorkerRegistry {
  private readonly sessions = new Map<string, WorkerSession>();
  private readonly persistedAt = new Map<string, number>();
  /** Sessions whose record waits for the next flush (see persist). */
  private readonly dirty = new Set<WorkerSession>();

  constructor(
    private readonly store: WorkerStore,
    private readonly log: Log = silentLog,
  ) {}

  get(handle: string): WorkerSession | undefined {
    return this.sessions.get(handle);
  }

  /** Sessions whose socket is open: one that is closing can take nothing more. */
  connected(): WorkerSession[] {
    return [...this.sessions.values()].filter((s) => this.isConnected(s));
  }

  /** The live session of its worker (not one a newer connection replaced), with its socket open. */
  isConnected(s: WorkerSession): boolean {
    return this.sessions.get(s.handle) === s && s.socket !== null && s.socket.readyState === s.socket.OPEN;
  }

  all(): WorkerSession[] {
    return [...this.sessions.values()];
  }

  add(session: WorkerSession): void {
    this.sessions.set(session.handle, session);
    this.persist(session);
  }

  remove(handle: string): void {
    this.sessions.delete(handle);
  }

  /** A worker that left for good (-lifetime, -walltime) and holds nothing: -w lists it no more. */
  forget(s: WorkerSession): void {
    if (this.sessions.get(s.handle) !== s || s.jobs.size > 0) return;
    this.drop(s.handle);
  }

  /** -clearWorkers: forgets every worker that is not connected; returns how many. */
  forgetAway(): number {
    let n = 0;
    for (const rec of this.store.all()) {
      const s = this.sessions.get(rec.handle);
      if (s && this.isConnected(s)) continue;
      this.drop(rec.handle);
      n++;
    }
    return n;
  }

  /** Its session and its row go. */
  private drop(handle: string): void {
    const s = this.sessions.get(handle);
    if (s) this.dirty.delete(s);
    this.sessions.delete(handle);
    this.store.forget(handle);
  }

  /** Saves what a worker last reported, at most every 30 s from heartbeats (a write each is waste). */
  persistSometimes(s: WorkerSession, now: number): void {
    if (now - (this.persistedAt.get(s.handle) ?? 0) < 30_000) return;
    this.persist(s);
  }

  /**
   * Saves it on the next turn, with every other worker saved meanwhile, in one transaction:
   * 1,000 workers reconnecting after a master restart cost one commit, not 1,000.
   */
  persist(s: WorkerSession): void {
    this.persistedAt.set(s.handle, Date.now());
    this.dirty.add(s);
    if (this.dirty.size === 1) setImmediate(() => this.flush());
  }

  /** Writes what persist() queued (also called before the database closes). */
  flush(): void {
    const batch = [...this.dirty];
    this.dirty.clear();
    if (batch.length === 0) return;
    try {
      this.store.saveAll(
        batch.map((s) => ({ handle: s.handle, info: JSON.stringify({ slots: s.slots, maxTime: s.maxTime, resources: s.resources }), lastSeen: s.lastSeen })),
      );
    } catch {
      // a locked or full database: -w shows older figures until the next save
    }
  }

  send(s: WorkerSession, msg: MasterToWorker): boolean {
    if (!s.socket || s.socket.readyState !== s.socket.OPEN) return false;
    const text = encode(msg);
    if (this.log.tracing) this.log.trace(traceLine('→', `worker ${s.handle}`, text));
    s.socket.send(text);
    return true;
  }

  /**
   * The connected workers with their slots, and a count of the others, from the sessions and
   * the table's handles alone: a scrape beside 1,000 workers away built 1,000 views (each
   * record's JSON parsed, the list sorted), 14-24 ms of the master's thread.
   */
  census(): WorkerCensus {
    const connected: WorkerCensus['connected'] = [];
    const known = new Set(this.store.handles());
    for (const s of this.sessions.values()) {
      known.add(s.handle);
      if (s.socket !== null) connected.push({ handle: s.handle, slots: s.slots, busy: Math.min(s.jobs.size, s.slots) });
    }
    return { connected, away: known.size - connected.length };
  }

  /** Live sessions first, then workers known only from the table (e.g. before they reconnect). */
  views(): WorkerView[] {
    const views = new Map<string, WorkerView>();
    for (const rec of this.store.all()) {
      const info = JSON.parse(rec.info) as { slots: number; maxTime: number | null; resources: Resources };
      views.set(rec.handle, {
        handle: rec.handle,
        connected: false,
        jobs: [],
        lastSeen: rec.lastSeen,
        pendingAction: '',
        ...info,
        resources: { docker: null, bare: true, ...(info.resources as Partial<Resources>) } as Resources,
      });
    }
    for (const s of this.sessions.values()) {
      views.set(s.handle, {
        handle: s.handle,
        connected: s.socket !== null,
        slots: s.slots,
        maxTime: s.maxTime,
        resources: s.resources,
        jobs: [...s.jobs.keys()],
        lastSeen: s.lastSeen,
        pendingAction: s.pendingAction ?? '',
      });
    }
    // By code unit, as the table's ORDER BY has ASCII handles: localeCompare's first call set
    // up ICU's collator, 13 ms of the master's loop inside the request.
    return [...views.values()].sort((a, b) => (a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0));
  }
}
