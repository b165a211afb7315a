// The master's side of one worker connection: hello and reconciliation, heartbeats, and the
// job events that must carry a current lease to be applied.
import type { WebSocket } from 'ws';
import type { ChunkHeader } from '../protocol/frames.js';
import type { WorkerMessage } from '../protocol/workerMessages.js';
import type { Hub } from './hub.js';
import { resultReported, takeBack } from './lifecycle.js';
import { holds, release, type Reservation, type WorkerSession } from './registry.js';
import { ChunkPump } from '../files/pump.js';
import { sendManifest, serveFetch } from './files/inputs.js';
import { CloseCodes } from '../protocol/codec.js';

export class WorkerLink {
  private session: WorkerSession | null = null;

  constructor(
    private readonly hub: Hub,
    private readonly socket: WebSocket,
  ) {}

  /** The worker's handle once it said hello. */
  get workerHandle(): string | null {
    return this.session?.handle ?? null;
  }

  handle(msg: WorkerMessage): void {
    const hub = this.hub;
    if (msg.type === 'workerHello') {
      this.hello(msg);
      return;
    }
    const s = this.session;
    if (!s) {
      this.socket.close(CloseCodes.HELLO_FIRST, 'workerHello must come first');
      return;
    }
    s.lastSeen = hub.clock.now();
    switch (msg.type) {
      case 'heartbeat':
        s.resources = msg.resources;
        if (msg.maxTime !== undefined) s.maxTime = msg.maxTime;
        hub.workers.persistSometimes(s, Date.now());
        hub.scheduler.offer(s); // its free memory may have grown
        return;
      case 'started':
        if (!hub.jobs.markRunning(msg.handle, msg.lease, hub.clock.now())) this.leaseGone(s, msg.handle, msg.lease);
        return;
      case 'progress':
        if (!hub.jobs.recordStats(msg.handle, msg.lease, msg.stats)) this.leaseGone(s, msg.handle, msg.lease);
        return;
      case 'output':
        if (!holds(s, msg.handle, msg.lease)) return; // output of a job taken away: dropped
        hub.logs.append(msg.handle, msg.stream, msg.offset, Buffer.from(msg.data, 'base64'));
        return;
      case 'stopping':
        s.slots = 0;
        if (msg.leaving) s.leaving = true;
        hub.workers.persist(s);
        return;
      case 'scratchReset':
        delete s.pendingAction;
        hub.log(`Worker ${s.handle} emptied its basePath (${msg.removed} entries)`);
        return;
      case 'staging':
        sendManifest(hub, s, msg.handle, msg.lease);
        return;
      case 'fetch':
        serveFetch(hub, s, msg.handle, msg.lease, msg.paths);
        return;
      case 'outDir':
        hub.outputs.dir(s, msg.handle, msg.lease, msg.path);
        return;
      case 'release':
        if (msg.lost) takeBack(hub, msg.handle, msg.lease, `${s.handle}: ${msg.lost}`, { lost: true });
        else takeBack(hub, msg.handle, msg.lease, `${s.handle} gave it back`);
        return;
      case 'finished':
        resultReported(hub, s, msg.handle, msg.lease, msg.result);
        return;
    }
  }

  /** File data from the worker: only its outputs are accepted. */
  chunk(header: ChunkHeader, data: Buffer): void {
    const s = this.session;
    if (!s || header.type !== 'outChunk') return;
    s.lastSeen = this.hub.clock.now();
    this.hub.outputs.chunk(s, header, data);
  }

  private leaseGone(s: WorkerSession, handle: string, lease: string): void {
    release(s, handle, lease);
    this.hub.workers.send(s, { type: 'leaseGone', handle, lease });
  }

  /**
   * A worker (re)connects and lists what it holds. Jobs whose lease is still current stay
   * with it; jobs it lists but lost meanwhile are dropped; jobs the table gives it that it
   * does not list (it restarted and lost them) go back to the queue.
   */
  private hello(msg: Extract<WorkerMessage, { type: 'workerHello' }>): void {
    const hub = this.hub;
    const previous = hub.workers.get(msg.handle);
    if (previous?.socket && previous.socket !== this.socket) {
      previous.socket.close(CloseCodes.REPLACED, 'replaced by a newer connection of the same worker');
    }
    const listed = new Map(msg.running.map((r) => [r.handle, r.lease]));
    const started = new Set(msg.running.filter((r) => r.started).map((r) => r.lease));
    const jobs = new Map<string, Reservation>();
    const lost: { handle: string; lease: string; status: string }[] = [];
    const killed: { handle: string; lease: string; reason: string }[] = [];
    for (const job of hub.jobs.activeOnWorker(msg.handle)) {
      if (listed.get(job.handle) !== job.lease) lost.push(job);
      else {
        jobs.set(job.handle, { lease: job.lease, mem: job.mem, cpus: job.cpus ?? 0, gpus: job.gpus });
        // Its `started` may have been sent while the socket was down.
        if (started.has(job.lease) && job.status !== 'running') hub.jobs.markRunning(job.handle, job.lease, hub.clock.now());
        // A kill sent on a connection that died may never have arrived.
        if (job.killReason) killed.push({ handle: job.handle, lease: job.lease, reason: job.killReason });
      }
    }
    // Kept jobs include those that finished while we were apart: their results follow.
    const drop = msg.running.filter((r) => jobs.get(r.handle)?.lease !== r.lease);
    previous?.pump.attach(null);
    if (previous) hub.outputs.closeSession(previous);
    const pump = new ChunkPump();
    pump.attach(this.socket);
    const session: WorkerSession = {
      handle: msg.handle,
      socket: this.socket,
      pump,
      inputs: new Map(),
      slots: msg.slots,
      maxTime: msg.maxTime,
      resources: msg.resources,
      lastSeen: hub.clock.now(),
      jobs,
    };
    this.session = session;
    hub.workers.add(session);
    // An assignment that never reached the worker (it is still 'assigned') costs no retry.
    // One still `assigned` never reached it (its hello lists every job it holds or took back).
    for (const job of lost) {
      takeBack(hub, job.handle, job.lease, `${msg.handle} no longer runs it`, { lost: job.status !== 'assigned', neverRan: job.status === 'assigned' });
    }
    // Where each kept job's output stands here: the worker sends on from there.
    const resume = [...jobs].map(([handle, r]) => ({ lease: r.lease, ...hub.logs.positionsOf(handle) }));
    hub.workers.send(session, { type: 'welcome', drop, resume });
    for (const k of killed) hub.workers.send(session, { type: 'killJob', ...k });
    hub.log(`Worker ${msg.handle} connected (${msg.resources.hostname}, ${msg.slots} slots)`);
    hub.scheduler.kick();
  }

  closed(): void {
    const s = this.session;
    // A connection replaced by a newer one of the same worker has nothing left to say.
    if (!s || s.socket !== this.socket || this.hub.workers.get(s.handle) !== s) return;
    s.socket = null;
    s.pump.attach(null);
    this.hub.outputs.closeSession(s);
    s.lastSeen = this.hub.clock.now();
    this.hub.workers.persist(s);
    if (s.leaving && s.jobs.size === 0) {
      this.hub.workers.forget(s);
      this.hub.log(`Worker ${s.handle} left`);
    } else this.hub.log(`Worker ${s.handle} disconnected`);
  }
}
