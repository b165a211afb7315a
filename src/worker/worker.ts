// `q -mode worker`: keeps a connection to the master (reconnecting with backoff and jitter),
// runs the jobs it is assigned, streams their output and state, and holds each result until
// the master acknowledges it, re-sending it after a reconnect.
//
// The worker's jobs are keyed by lease, not handle: after a partition the master may give a
// job back under a new lease while the old copy is still dying. The new one then waits for
// the old one to be gone (they share the job's files) and starts only if it is still wanted.
// A job's life here: waiting (only behind an old copy) → running → result held until acked.
// dropped = the master took it away; nothing more is sent about it.
//
// A job runs as a process in a slot shell (JobRun), or in a Docker container (ContainerRun)
// when it names an image or the worker has a default one. Containers outlive the worker: on
// start it takes back the ones it left (by label) before it says hello, so the master keeps
// those jobs with it.
import { WebSocket } from 'ws';
import { closeSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { openRegularBeneath } from '../files/beneath.js';
import { dirname, join } from 'node:path';
import { isInside } from '../files/paths.js';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { ChunkPump } from '../files/pump.js';
import { ChunkWriter } from '../files/writer.js';
import { MAX_FRAME_BYTES, decode, encode } from '../protocol/codec.js';
import { MasterToWorkerSchema, type ManifestEntry, type MasterToWorker, type WorkerMessage } from '../protocol/workerMessages.js';
import { lowOnDisk } from '../protocol/resources.js';
import { decodeChunk, type ChunkHeader } from '../protocol/frames.js';
import { type Assignment, type Result } from '../protocol/jobState.js';
import { ContainerRun } from './docker/containerRun.js';
import { LABELS } from './docker/containerSpec.js';
import { canPin, clearStages } from './docker/pinnedMounts.js';
import { CgroupHost } from './cgroup.js';
import { DockerEngine } from './docker/engine.js';
import type { Execution } from './execution.js';
import { AdoptedRun } from './adoptedRun.js';
import { OutSync } from './files/outSync.js';
import { Stager } from './files/stager.js';
import { checkJobPaths, jobRel, jobRoot } from './jobFiles.js';
import { JobRun, subshellOf } from './runner.js';
import { readProcTable, type ProcTable } from './procTable.js';
import { SlotShell } from './slotShell.js';
import { busyProcesses, freeDiskMb, resources } from './sysinfo.js';
import { formatSize } from '../common/units.js';
import { ExitCodes, Reasons, resultWithoutRun } from '../common/outcomes.js';

export interface WorkerOptions {
  url: string;
  token: string;
  /** With a wss:// url: the certificate to trust. */
  ca?: Buffer;
  handle: string;
  hostname: string;
  basePath: string;
  slots: number;
  maxTime: number | null;
  heartbeatMs: number;
  killGraceMs: number;
  /** Queues served besides jobs of no queue. */
  queues?: string[];
  /** MB of free disk under basePath below which it takes no new job (and says so). */
  minFreeDisk?: number;
  docker?: DockerOptions;
  clock?: Clock;
  log?: (line: string) => void;
}

export interface DockerOptions {
  /** Jobs that name no image run in this one (when the engine answers). */
  image: string | null;
  /** Run nothing outside a container. */
  require: boolean;
  /** `uid:gid` containers run as; null = this process's. */
  user: string | null;
}

/**
 * The environment jobs start from: the worker's, less its credentials. (Q_TOKEN has already
 * left it in main.ts; this holds for a Worker made any other way too.)
 */
function jobEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['Q_TOKEN', 'Q_TOKEN_FD']) delete env[k];
  return env;
}

const SAMPLE_MS = 250;
const OUTPUT_MS = 100;
const PROGRESS_MS = 1000;
const DISK_MS = 5000;
/** How often outputs named by outFiles are copied back while a job runs. */
const OUTFILES_MS = 2000;
/** Output sent per stream per tick: a chatty job cannot flood the socket. */
const OUTPUT_MAX_BYTES = 1024 * 1024;
/** No more output is read while this much waits in the socket (a slow link). */
const OUTPUT_BACKLOG_BYTES = 8 * 1024 * 1024;
/** How long after a job ends the sampler keeps looking for processes it left behind. */
const LEFTOVER_MS = 2000;

interface Held {
  handle: string;
  lease: string;
  /** Behind an old copy of the same job: starts when that one is gone. */
  waiting: Assignment | null;
  /** Fetching its inputs; it starts when they are here. */
  stager: Stager | null;
  /** Copies its outputs back; the result waits for a last complete pass. */
  outSync: OutSync | null;
  outSynced: boolean;
  flushing: boolean;
  /** A kill that arrived while waiting: it ends without starting. */
  killReason: string | null;
  run: Execution | null;
  /** The run whose output is still to be sent, until the result is acknowledged. */
  files: Execution | null;
  /** Set once the job ended; kept until the master acknowledges it. */
  result: Result | null;
  /** The result went out on the current connection (it is sent again after a reconnect). */
  resultSent: boolean;
  dropped: boolean;
}

export class Worker {
  private socket: WebSocket | null = null;
  /** lease → job */
  private readonly held = new Map<string, Held>();
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private stopped = false;
  private stopReason = '';
  private backoffMs = 100;
  private timers: NodeJS.Timeout[] = [];
  private prevTable: ProcTable | null = null;
  private prevTableAt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly shells: SlotShell[] = [];
  /** Shells whose run has not finished yet (see startJob). */
  private readonly owned = new Set<SlotShell>();
  private lastJobEnd = 0;
  private welcomed = false;
  private engine: DockerEngine | null = null;
  private readonly docker: DockerOptions;
  /** Containers being removed: stop() waits for them. */
  private readonly disposing = new Set<Promise<void>>();
  /** Files to the master (outputs). */
  private readonly pump = new ChunkPump();
  /** Files from the master that running jobs get while they run (realtimeInPaths). */
  private readonly realtime = new ChunkWriter();
  /** The scratch base with its links resolved (a job's shell checks where it really is). */
  private readonly realBase: string;
  /** Where process jobs get cgroups of their own; null: none can be made here (see isolation). */
  private readonly cgroups: CgroupHost | null;
  /** How process jobs are kept apart, for the log and `-w`. */
  private readonly isolation: string;

  get handle(): string {
    return this.opts.handle;
  }

  get basePath(): string {
    return this.opts.basePath;
  }

  constructor(private readonly opts: WorkerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? ((l) => console.log(l));
    this.docker = opts.docker ?? { image: null, require: false, user: null };
    mkdirSync(opts.basePath, { recursive: true });
    this.realBase = realpathSync(opts.basePath);
    const cg = CgroupHost.detect(opts.handle);
    this.cgroups = cg instanceof CgroupHost ? cg : null;
    this.isolation = cg instanceof CgroupHost ? cg.describe() : `none: ${cg.problem}`;
  }

  /** Finds the Docker engine and the containers left from a previous run, then connects. */
  async start(): Promise<void> {
    try {
      this.engine = await DockerEngine.open();
    } catch (e) {
      this.log(`Docker support could not load (${(e as Error).message}): running process jobs only`);
    }
    const version = await this.engine?.probe();
    if (this.cgroups) this.log(`Process jobs run in a ${this.isolation} of their own`);
    else {
      this.log(
        `Process jobs cannot get cgroups here (${this.isolation.replace(/^none: /, '')}): a process that leaves its job's ` +
          'tree and group (setsid) is neither measured nor ended with it',
      );
    }
    if (!canPin()) this.log('Not root: Docker mounts are checked for links just before create, but not pinned (docs/security.md)');
    else await clearStages(join(this.opts.basePath, '.q', 'mounts'));
    this.adoptProcesses();
    if (version) {
      this.log(`Docker engine ${version} reachable${this.docker.image ? `; jobs without an image run in ${this.docker.image}` : ''}`);
      await this.adoptContainers();
    } else if (this.engine) {
      const only = this.docker.require ? 'it takes no jobs until one answers' : 'running process jobs only';
      this.log(`No Docker engine reachable (${this.engine.problem}): ${only}`);
    }
    this.connect();
    this.timers.push(setInterval(() => this.heartbeat(), this.opts.heartbeatMs));
    this.timers.push(setInterval(() => this.sampleAll(), SAMPLE_MS));
    this.timers.push(setInterval(() => this.sendOutput(), OUTPUT_MS));
    this.timers.push(setInterval(() => this.sendProgress(), PROGRESS_MS));
    this.timers.push(setInterval(() => this.sampleDisks(), DISK_MS));
    this.timers.push(setInterval(() => this.syncOutputs(), OUTFILES_MS));
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url, {
      headers: { authorization: `Bearer ${this.opts.token}`, 'x-q-role': 'worker' },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 5000,
      perMessageDeflate: false,
      ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      // Masking (RFC 6455) guards proxies against scripts in browsers; a worker is not one,
      // and XOR-ing every byte of a large file costs more CPU than sending it.
      generateMask: () => {},
    });
    this.socket = ws;
    ws.on('open', () => {
      this.backoffMs = 100;
      this.welcomed = false;
      this.pump.attach(ws);
      for (const h of this.held.values()) {
        h.resultSent = false;
        // Outputs put into the old socket may not have arrived: all of them go again.
        h.outSync?.reset();
        h.outSynced = false;
      }
      this.send({
        type: 'workerHello',
        handle: this.opts.handle,
        slots: this.stopped ? 1 : this.opts.slots,
        maxTime: this.opts.maxTime,
        resources: this.resources(),
        running: [...this.held.values()].filter((h) => !h.dropped).map((h) => ({ handle: h.handle, lease: h.lease, started: h.files !== null })),
      });
      if (this.stopped) this.send({ type: 'stopping' });
    });
    ws.on('unexpected-response', (_req, res) => {
      this.log(`Master refused this worker: ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
      if (res.statusCode === 401) {
        this.log('Check the token (-token, Q_TOKEN or the master state directory).');
      }
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const chunk = decodeChunk(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
        if (chunk.ok) this.onChunk(chunk.header, chunk.data);
        else this.log(`Ignored a bad file chunk from the master: ${chunk.error}`);
        return;
      }
      const decoded = decode(MasterToWorkerSchema, data);
      if (decoded.ok) this.onMessage(decoded.msg);
      else this.log(`Ignored a bad message from the master: ${decoded.error}`);
    });
    ws.on('error', () => {
      // 'close' follows and reconnects
    });
    ws.on('close', () => {
      if (this.socket === ws) {
        this.socket = null;
        this.pump.attach(null);
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer) return;
    // Full jitter: many workers losing one master do not all come back in the same instant.
    const delay = Math.random() * this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private send(msg: WorkerMessage): void {
    const ws = this.socket;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(encode(msg));
  }

  /**
   * Connected and welcomed: output, outputs and results wait for the welcome, which says how
   * much of each job's output the master has. Sent before it, a chunk would land past a gap
   * the welcome's positions then skip.
   */
  private get connected(): boolean {
    return this.welcomed && this.socket?.readyState === WebSocket.OPEN;
  }

  private resources() {
    const table = readProcTable();
    const now = this.clock.now();
    const busy = busyProcesses(this.prevTable, table, now - this.prevTableAt);
    this.prevTable = table;
    this.prevTableAt = now;
    const version = this.engine?.version ?? null;
    const bare = !this.docker.require || (this.docker.image !== null && version !== null);
    return resources(this.opts.hostname, this.opts.basePath, busy, { version, bare, queues: this.opts.queues ?? [] }, this.isolation, this.opts.minFreeDisk ?? 0);
  }

  /** The image a job runs in here; null = as a process; false = this worker cannot run it now. */
  private imageFor(job: Assignment): string | null | false {
    const engineUp = (this.engine?.version ?? null) !== null;
    if (job.dockerImage) return engineUp ? job.dockerImage : false;
    if (this.docker.image && engineUp) return this.docker.image;
    return this.docker.require ? false : null;
  }

  private containerEnv() {
    const own = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
    const user = this.docker.user ?? own;
    const [uid, gid] = user.split(':').map(Number);
    return {
      basePath: this.opts.basePath,
      killGraceMs: this.opts.killGraceMs,
      clock: this.clock,
      engine: this.engine!,
      workerHandle: this.opts.handle,
      user,
      owner: user === own ? null : ([uid!, gid ?? uid!] as [number, number]),
      pinMounts: canPin(),
    };
  }

  /**
   * Containers this worker left behind (it was restarted): running or finished, each goes
   * back under its lease, and the hello lists it. One that cannot be matched to its job is
   * removed.
   */
  private async adoptContainers(): Promise<void> {
    const engine = this.engine!;
    let found;
    try {
      found = await engine.containersOf(this.opts.handle, this.opts.basePath);
    } catch (e) {
      this.log(`Could not list this worker's containers: ${(e as Error).message}`);
      return;
    }
    for (const info of found) {
      const lease = info.Labels[LABELS.lease] ?? '';
      if (this.held.has(lease)) continue;
      let run: ContainerRun | null = null;
      try {
        run = await ContainerRun.adopt(info, this.containerEnv());
      } catch (e) {
        this.log(`Could not take back container ${info.Id.slice(0, 12)}: ${(e as Error).message}`);
      }
      if (!run) {
        this.log(`Removing container ${info.Id.slice(0, 12)} (${info.Labels[LABELS.job] ?? '?'}): no record of its job`);
        await engine.api.getContainer(info.Id).remove({ force: true }).catch(() => {});
        continue;
      }
      this.log(`Took back ${run.job.handle} in container ${info.Id.slice(0, 12)} (${info.State})`);
      this.holdTakenBack(run);
    }
  }

  /** A job found again after a restart goes back under its lease, and its result will follow. */
  private holdTakenBack(run: Execution): void {
    const h: Held = {
      handle: run.job.handle, lease: run.job.lease, waiting: null, stager: null, outSync: null, outSynced: false,
      flushing: false, killReason: null, run, files: run, result: null, resultSent: false, dropped: false,
    };
    h.outSync = this.outSyncFor(run.job, []);
    this.held.set(run.job.lease, h);
    void run.result.then((result) => this.finished(h, result));
  }

  /**
   * Process jobs started by a previous run of this worker (it was restarted while they ran):
   * each goes back under its lease, running or finished, and the hello lists it.
   */
  private adoptProcesses(): void {
    const found = AdoptedRun.findAll({ basePath: this.opts.basePath, killGraceMs: this.opts.killGraceMs, clock: this.clock, cgroups: this.cgroups });
    // Job cgroups of earlier runs go once empty; those of jobs taken back stay theirs.
    const kept = new Set(found.map((r) => r.cgroupName).filter((n) => n !== null));
    this.cgroups?.sweep((name) => kept.has(name));
    for (const run of found) {
      const lease = run.job.lease;
      if (this.held.has(lease)) continue;
      this.log(`Took back ${run.job.handle}, a process job started before this worker restarted`);
      this.holdTakenBack(run);
    }
  }

  /** Removes containers of this worker that it does not hold (their jobs went elsewhere). */
  private async removeStrays(): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    for (const info of await engine.containersOf(this.opts.handle, this.opts.basePath).catch(() => [])) {
      // Checked now, not before the list came: a job may have started a container meanwhile.
      if (this.held.has(info.Labels[LABELS.lease] ?? '')) continue;
      this.log(`Removing container ${info.Id.slice(0, 12)} (${info.Labels[LABELS.job] ?? '?'}): its job is no longer this worker's`);
      await engine.api.getContainer(info.Id).remove({ force: true }).catch(() => {});
    }
  }

  private onMessage(msg: MasterToWorker): void {
    switch (msg.type) {
      case 'welcome':
        this.welcomed = true;
        for (const d of msg.drop) this.drop(d.lease);
        // Output goes on from what the master has: what went into the old socket and was
        // lost is sent again, and nothing it has is sent twice.
        for (const r of msg.resume) {
          const files = this.held.get(r.lease)?.files;
          if (files) {
            files.stdout.pos = r.stdout;
            files.stderr.pos = r.stderr;
          }
        }
        // Staging that was under way starts over: the manifest and chunks in flight are gone.
        for (const h of this.held.values()) if (h.stager?.staging && !h.dropped) h.stager.begin();
        // Results that finished while we were apart go out once their output has.
        for (const h of this.held.values()) this.deliver(h);
        return;
      case 'assign':
        this.assigned(msg.job);
        return;
      case 'killJob': {
        const h = this.held.get(msg.lease);
        if (!h) return;
        if (h.run) h.run.kill(msg.reason);
        else if (h.waiting) h.killReason ??= msg.reason;
        else if (h.stager?.staging) {
          h.killReason ??= msg.reason;
          h.stager.fail(msg.reason);
        }
        return;
      }
      case 'manifest':
        this.held.get(msg.lease)?.stager?.manifest(msg.entries, msg.last);
        return;
      case 'stageError':
        this.held.get(msg.lease)?.stager?.fail(msg.message);
        return;
      case 'leaseGone':
        this.drop(msg.lease);
        return;
      case 'resultAck': {
        const h = this.held.get(msg.lease);
        if (h?.result) this.forget(h);
        return;
      }
      case 'error':
        this.log(`Master: ${msg.message}`);
        return;
    }
  }

  private forget(h: Held): void {
    const run = h.files;
    h.files = null;
    this.held.delete(h.lease);
    if (!run) return;
    const done = run.dispose().catch((e: Error) => this.log(`Could not clean up after ${h.handle}: ${e.message}`));
    this.disposing.add(done);
    void done.finally(() => this.disposing.delete(done));
  }

  /**
   * A process job that started a container of its own (CodaLab's scripts run `docker run
   * --cidfile`) is killed: that container is stopped too, since its PID 1 may ignore TERM and
   * outlive the job. Only a container that mounts something beside the cid file is touched,
   * so a job cannot name another job's container.
   */
  private async stopItsContainer(job: Assignment): Promise<void> {
    const engine = this.engine;
    if (!engine || !job.cidFile) return;
    const path = job.shareWorkingPath ? job.cidFile : join(this.opts.basePath, job.cidFile);
    let id: string;
    try {
      // Read through no link: the job wrote this file, and could have made it one.
      const fd = openRegularBeneath(jobRoot(job, this.opts.basePath), jobRel(job, job.cidFile));
      if (fd === null) return;
      try {
        id = readFileSync(fd, 'utf8').trim();
      } finally {
        closeSync(fd);
      }
    } catch {
      return; // it had not started one (yet)
    }
    if (!/^[0-9a-f]{12,64}$/.test(id)) return;
    const container = engine.api.getContainer(id);
    try {
      const info = await container.inspect();
      if (!info.Mounts.some((m) => isInside(m.Source, dirname(path)))) {
        this.log(`Not stopping container ${id.slice(0, 12)} named by ${job.handle}: it is not that job's`);
        return;
      }
      this.log(`Stopping container ${id.slice(0, 12)} of ${job.handle}`);
      await container.stop({ t: Math.ceil(this.opts.killGraceMs / 1000) }).catch(() => {});
      await container.remove({ force: true }).catch(() => {});
    } catch {
      // gone already
    }
  }

  /** Gives a job back to the queue: this worker cannot run it now. */
  /** `ran`: the job had started, so the master counts this against its -retries. */
  private giveBack(h: Held, why: string, ran = false): void {
    this.log(`Giving back ${h.handle}: ${why}`);
    // The master learns first what this worker can run, so it does not send the job again.
    this.send({ type: 'heartbeat', resources: this.resources() });
    this.send({ type: 'release', handle: h.handle, lease: h.lease, ...(ran ? { lost: why } : {}) });
    this.forget(h);
  }

  private drop(lease: string): void {
    const h = this.held.get(lease);
    if (!h) return;
    h.dropped = true;
    if (h.run) h.run.kill('The master took this job away');
    else if (h.stager?.staging) h.stager.fail('The master took this job away'); // forgotten when it fails
    else if (!h.waiting) this.forget(h); // a waiting one is forgotten when its turn comes
  }

  /** An idle slot shell that no unfinished run still owns, or a new one. */
  private shell(): SlotShell {
    for (let i = this.shells.length - 1; i >= 0; i--) if (!this.shells[i]!.alive) this.shells.splice(i, 1);
    const idle = this.shells.find((s) => !s.busy && !this.owned.has(s));
    if (idle) return idle;
    const fresh = new SlotShell(jobEnv());
    this.shells.push(fresh);
    return fresh;
  }

  private assigned(job: Assignment): void {
    if (this.stopped) {
      this.send({ type: 'release', handle: job.handle, lease: job.lease });
      return;
    }
    if (this.held.has(job.lease)) return; // a repeated message
    const h: Held = {
      handle: job.handle, lease: job.lease, waiting: null, stager: null, outSync: null, outSynced: false, flushing: false,
      killReason: null, run: null, files: null, result: null, resultSent: false, dropped: false,
    };
    this.held.set(job.lease, h);
    // Older copies of this job (we were apart, the master gave it again): they go.
    const older = [...this.held.values()].filter((o) => o.handle === job.handle && o !== h);
    for (const o of older) this.drop(o.lease);
    const dying = older.map((o) => o.run?.result).filter((r): r is Promise<Result> => r !== undefined);
    if (dying.length === 0) {
      this.stageThenRun(job, h);
      return;
    }
    h.waiting = job;
    void Promise.all(dying).then(() => {
      h.waiting = null;
      if (h.dropped) return this.forget(h);
      if (this.stopped) {
        this.send({ type: 'release', handle: h.handle, lease: h.lease });
        return this.forget(h);
      }
      if (h.killReason) {
        return this.finished(h, resultWithoutRun(ExitCodes.TERMINATED, h.killReason));
      }
      this.stageThenRun(job, h);
    });
  }

  /** Copies outputs back for a job that names outFiles (and does not share the working path). */
  private outSyncFor(job: Assignment, inputs: ManifestEntry[]): OutSync | null {
    if (!job.outPath || job.shareWorkingPath || job.outFiles.length === 0) return null;
    return new OutSync(job, this.opts.basePath, jobRel(job, job.outPath), this.pump, (m) => this.send(m), inputs, this.log);
  }

  /** Fetches the job's inputs (if it has any to fetch), then runs it. */
  private stageThenRun(job: Assignment, h: Held): void {
    const free = freeDiskMb(this.opts.basePath);
    if (lowOnDisk({ freeDisk: free, minFreeDisk: this.opts.minFreeDisk ?? 0 })) {
      return this.giveBack(h, `only ${formatSize(free)} free under ${this.opts.basePath} (-minFreeDisk ${formatSize(this.opts.minFreeDisk!)})`);
    }
    try {
      checkJobPaths(job, [this.opts.basePath, this.realBase]);
    } catch (e) {
      return this.finished(h, resultWithoutRun(ExitCodes.NOT_PROVIDED, `Could not place the job here: ${(e as Error).message}`));
    }
    const image = this.imageFor(job);
    if (image === false) {
      return this.giveBack(h, job.dockerImage ? 'no Docker engine answers' : 'this worker runs only Docker jobs');
    }
    const hasInputs = !job.shareWorkingPath && job.inPaths.length + job.realtimeInPaths.length > 0;
    if (!hasInputs) {
      h.outSync = this.outSyncFor(job, []);
      return this.startJob(job, h, image);
    }
    const stager = new Stager(job, this.opts.basePath, (m) => this.send(m));
    h.stager = stager;
    stager.begin();
    stager.ready.then(
      (inputs) => {
        h.stager = null;
        h.outSync = this.outSyncFor(job, inputs);
        this.startJob(job, h, image);
      },
      (e: Error) => {
        h.stager = null;
        if (h.dropped) return this.forget(h);
        if (this.stopped && !h.killReason) {
          this.send({ type: 'release', handle: h.handle, lease: h.lease });
          return this.forget(h);
        }
        if (h.killReason) this.finished(h, resultWithoutRun(ExitCodes.TERMINATED, h.killReason));
        else this.finished(h, resultWithoutRun(ExitCodes.NOT_PROVIDED, `Could not copy its inputs: ${e.message}`));
      },
    );
  }

  private startJob(job: Assignment, h: Held, image: string | null): void {
    this.log(`Running ${job.handle}${image ? ` in ${image}` : ''}: ${job.command}`);
    let run: Execution;
    try {
      run = image
        ? ContainerRun.start(job, image, this.containerEnv())
        : new JobRun(job, this.shell(), {
            basePath: this.opts.basePath,
            realBase: this.realBase,
            cgroups: this.cgroups,
            killGraceMs: this.opts.killGraceMs,
            clock: this.clock,
            onKill: job.cidFile ? () => void this.stopItsContainer(job) : undefined,
          });
    } catch (e) {
      this.finished(h, resultWithoutRun(ExitCodes.NOT_FOUND, `Could not start: ${(e as Error).message}`));
      return;
    }
    h.run = run;
    h.files = run;
    // The shell stays this run's until the run is over, even if its subshell has exited: a
    // kill may still be waiting out the grace period before it KILLs the shell's group.
    const shell = run.shell;
    if (shell) this.owned.add(shell);
    this.send({ type: 'started', handle: job.handle, lease: job.lease });
    void run.result.then((result) => {
      if (shell) this.owned.delete(shell);
      const lost = run.engineLost;
      if (lost && !h.dropped) {
        // Not the job's fault: it goes back to the queue, and the master hears first that
        // this worker has no engine now.
        h.run = null;
        void this.engine?.probe().then(() => this.giveBack(h, lost.why, lost.ran));
        return;
      }
      this.finished(h, result);
    });
  }

  /**
   * Sends what the job wrote since last time, at most `budget` bytes per stream, and not
   * while the socket is backed up. Returns true when nothing is left to send. Nothing is
   * read while the master is away, so nothing is lost.
   */
  private drainOutput(h: Held, budget: number): boolean {
    const run = h.files;
    if (!run || h.dropped) return true;
    let done = true;
    for (const [stream, file] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
      for (let left = budget; ; ) {
        if (!this.connected || this.socket!.bufferedAmount > OUTPUT_BACKLOG_BYTES || left <= 0) {
          done = false;
          break;
        }
        const offset = file.pos;
        const chunk = file.read(Math.min(left, OUTPUT_MAX_BYTES));
        if (!chunk) break;
        left -= chunk.length;
        this.send({ type: 'output', handle: h.handle, lease: h.lease, stream, offset, data: chunk.toString('base64') });
      }
    }
    return done;
  }

  /** A finished job's result goes out once all its output has. */
  private deliver(h: Held): void {
    if (!h.result || h.resultSent || h.dropped || !this.connected) return;
    if (!this.drainOutput(h, OUTPUT_MAX_BYTES)) return; // the output tick carries on
    if (h.outSync && !h.outSynced) {
      // Its outputs reach the master before its result does.
      if (!h.flushing) {
        h.flushing = true;
        void h.outSync.flush().then((ok) => {
          h.flushing = false;
          h.outSynced = ok;
          if (ok) this.deliver(h); // else: again after a reconnect
        });
      }
      return;
    }
    const problem = h.outSync?.problem;
    if (problem && h.result.exitReason === null) h.result = { ...h.result, exitReason: Reasons.outputsNotDelivered(problem) };
    this.send({ type: 'finished', handle: h.handle, lease: h.lease, result: h.result });
    h.resultSent = true;
  }

  private syncOutputs(): void {
    if (!this.connected) return;
    for (const h of this.held.values()) if (h.run && !h.dropped) h.outSync?.pass();
  }

  /** File data from the master: inputs being staged, or realtime inputs of a running job. */
  private onChunk(header: ChunkHeader, data: Buffer): void {
    if (header.type !== 'inChunk') return;
    const h = this.held.get(header.lease);
    if (!h || h.dropped || h.handle !== header.handle) return;
    if (!header.realtime) {
      h.stager?.chunk(header, data);
      return;
    }
    const job = h.run?.job;
    if (!job || !job.realtimeInPaths.includes(header.path)) return;
    try {
      this.realtime.write(this.opts.basePath, jobRel(job, header.path), { ...header, append: false, data });
    } catch (e) {
      this.log(`Could not update ${header.path} for ${h.handle}: ${(e as Error).message}`);
    }
  }

  private sendOutput(): void {
    for (const h of this.held.values()) {
      if (h.run) this.drainOutput(h, OUTPUT_MAX_BYTES);
      else this.deliver(h);
    }
  }

  private finished(h: Held, result: Result): void {
    h.run = null;
    this.lastJobEnd = this.clock.now();
    this.log(`Finished ${h.handle}: exit ${result.exitCode}${result.exitReason ? ` (${result.exitReason})` : ''}`);
    if (h.dropped) {
      this.forget(h);
      return;
    }
    if (this.stopped && result.exitReason === this.stopReason) {
      // Killed only because this worker is stopping: the job is not at fault, so it goes
      // back to the queue rather than failing.
      this.send({ type: 'release', handle: h.handle, lease: h.lease });
      this.forget(h);
      return;
    }
    h.result = this.diskCheck(result);
    this.deliver(h);
  }

  /**
   * A job that ended with the scratch base full may have lost output it wrote: it does not
   * end done, and says why.
   */
  private diskCheck(result: Result): Result {
    const free = freeDiskMb(this.opts.basePath);
    // Full is under a megabyte: merely below -minFreeDisk only stops new jobs coming.
    if (result.exitReason !== null || free < 0 || free >= 1) return result;
    return { ...result, exitReason: `The worker's disk was full when it ended (${formatSize(free)} free under ${this.opts.basePath}): its output may be incomplete` };
  }

  private heartbeat(): void {
    void this.probeEngine().then(() => this.send({ type: 'heartbeat', resources: this.resources() }));
  }

  /** Notices an engine that stopped or started answering. */
  private async probeEngine(): Promise<void> {
    if (!this.engine || this.stopped) return;
    const before = this.engine.version;
    const now = await this.engine.probe();
    if (before === now || (before !== null && now !== null)) return;
    if (now === null) this.log(`Docker engine stopped answering (${this.engine.problem})`);
    else {
      this.log(`Docker engine ${now} reachable again`);
      // While it was away, the master requeued the jobs of any container we left.
      await this.removeStrays();
    }
  }

  private runs(): (Held & { run: Execution })[] {
    return [...this.held.values()].filter((h): h is Held & { run: Execution } => h.run !== null);
  }

  /** Runs in a slot shell: the ones /proc sampling and the leftover sweep are about. */
  private processRuns(): Execution[] {
    return this.runs().flatMap((h) => (h.run.shell ? [h.run] : []));
  }

  private sampleAll(): void {
    const runs = this.processRuns();
    if (runs.length === 0 && this.clock.now() - this.lastJobEnd > LEFTOVER_MS) return;
    const table = readProcTable();
    for (const run of runs) run.sample(table);
    this.killLeftovers(table, runs);
  }

  /**
   * A slot shell's process group holds its current job and whatever earlier jobs left
   * running (`cmd &` without wait). Those have outlived their job: end them. A process is
   * an earlier job's when it was born before the current job's subshell.
   */
  private killLeftovers(table: ProcTable, runs: Execution[]): void {
    for (const shell of this.shells) {
      if (!shell.alive) continue;
      const sub = subshellOf(table, shell.pid);
      if (sub === null && shell.busy) continue; // its job is being forked: not sure yet
      const bornBefore = sub === null ? Infinity : table.get(sub)!.startTicks;
      // A job being killed keeps the processes it had: its kill decides how they end.
      const dying = new Set(runs.find((r) => r.shell === shell)?.processes ?? []);
      for (const p of table.values()) {
        if (p.pgrp !== shell.pid || p.pid === shell.pid || p.startTicks >= bornBefore || dying.has(p.pid)) continue;
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }

  private sampleDisks(): void {
    for (const h of this.runs()) void h.run.sampleDisk();
  }

  private sendProgress(): void {
    for (const h of this.runs()) {
      if (!h.dropped) this.send({ type: 'progress', handle: h.handle, lease: h.lease, stats: h.run.stats() });
    }
  }

  /** Stops taking work, kills what runs, and hands those jobs back to the master. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopReason = `Worker ${this.opts.handle} stopped`;
    this.send({ type: 'stopping' });
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const runs = this.runs();
    for (const h of runs) h.run.kill(this.stopReason);
    // Jobs still fetching inputs go back to the queue as they are.
    for (const h of this.held.values()) if (h.stager?.staging) h.stager.fail(this.stopReason);
    await Promise.all(runs.map((h) => h.run.result));
    // Heartbeats went on during the grace period, so the master did not count us lost.
    for (const t of this.timers) clearInterval(t);
    for (const shell of this.shells) shell.close();
    this.cgroups?.close();
    // Give the releases and results a moment to reach the master, and containers time to go.
    const cleanup = Promise.all([...this.disposing]);
    await Promise.race([cleanup, new Promise((r) => setTimeout(r, 10_000))]);
    await new Promise((r) => setTimeout(r, runs.length ? 200 : 0));
    this.socket?.close();
  }
}
