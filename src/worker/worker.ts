// `q -mode worker`: runs the jobs the master assigns and holds each result until the master
// acknowledges it. This file orchestrates; each concern has its own:
//
//   link.ts              the socket to the master (backoff, welcome, send)
//   heldJob.ts           one held job as a state machine (waiting, staging, running, delivering, dropped)
//   delivery.ts          output, outFiles and the result back to the master
//   processSide.ts       slot shells, cgroups, /proc sampling, leftovers, process jobs taken back
//   docker/dockerSide.ts the engine, images, containers taken back, strays
//   files/stager.ts      inputs from the master
//
// A job runs as a process in a slot shell, or in a Docker container when it names an image
// or the worker has a default one. Runs outlive the worker: on start it takes back the ones
// it left (process records, container labels) before it says hello, so the master keeps
// those jobs with it.
import { mkdirSync } from 'node:fs';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { ChunkWriter } from '../files/writer.js';
import type { MasterToWorker } from '../protocol/workerMessages.js';
import { lowOnDisk } from '../protocol/resources.js';
import type { ChunkHeader } from '../protocol/frames.js';
import type { Assignment, Result } from '../protocol/jobState.js';
import { DockerSide, type DockerOptions } from './docker/dockerSide.js';
import type { Execution } from './execution.js';
import { Delivery } from './delivery.js';
import { HeldJob, Phases } from './heldJob.js';
import { MasterLink } from './link.js';
import { Stager } from './files/stager.js';
import { checkJobPaths, jobRel, jobRoot, mirrorRoot, removeJobFiles, sweepJobFiles } from './jobFiles.js';
import { emptyScratch } from './scratch.js';
import { StagedCopies } from './files/stagedCopies.js';
import { refusal } from '../protocol/containerPolicy.js';
import { readProcTable, type ProcTable } from './procTable.js';
import { ProcessSide } from './processSide.js';
import { busyProcesses, freeDiskMb, resources } from './sysinfo.js';
import { formatSize } from '../common/units.js';
import { MAX_WALK_ENTRIES } from '../common/limits.js';
import { ExitCodes, Reasons, resultWithoutRun } from '../common/outcomes.js';
import { logByTurn } from '../common/turnLines.js';
import { Verbosity, type Log } from '../common/verbosity.js';
import { Tenure } from './tenure.js';

export type { DockerOptions } from './docker/dockerSide.js';

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
  /** -lifetime and -walltime, in ms (tenure.ts); null: none. */
  lifetimeMs?: number | null;
  walltimeMs?: number | null;
  killGraceMs: number;
  /** Queues served besides jobs of no queue. */
  queues?: string[];
  /** MB of free disk under basePath below which it takes no new job (and says so). */
  minFreeDisk?: number;
  /** Entries one copy of a job's outputs reads (default MAX_WALK_ENTRIES). */
  maxOutputEntries?: number;
  docker?: DockerOptions;
  clock?: Clock;
  /** -verbose (default 1); ignored when `log` is given. */
  verbosity?: Verbosity;
  log?: Log;
}

const SAMPLE_MS = 250;
const OUTPUT_MS = 100;
const PROGRESS_MS = 1000;
const DISK_MS = 5000;
/** How often outputs named by outFiles are copied back while a job runs. */
const OUTFILES_MS = 1000;
/** How long stop() waits for containers to be removed. */
const CLEANUP_MS = 10_000;
/** Kept in hand at the end of a -walltime besides two heartbeats (tenure.ts). */
const TENURE_MARGIN_MS = 5000;

export class Worker {
  /** lease → job */
  private readonly held = new Map<string, HeldJob>();
  /** -resetWorkers came while jobs were held: the basePath is emptied once none is. */
  private resetPending = false;
  private readonly clock: Clock;
  private readonly log: Log;
  private stopped = false;
  private stopReason = '';
  private readonly tenure: Tenure;
  /** Resolves with why, when it leaves by itself (-lifetime, -walltime): the process then ends. */
  readonly left: Promise<string>;
  private leave!: (why: string) => void;
  private timers: NodeJS.Timeout[] = [];
  private prevTable: ProcTable | null = null;
  private prevTableAt = 0;
  private readonly link: MasterLink;
  private readonly delivery: Delivery;
  private readonly processes: ProcessSide;
  private readonly docker: DockerSide;
  /** Runs being cleaned up (containers removed): stop() waits for them. */
  private readonly disposing = new Set<Promise<void>>();
  /** The inputs this worker staged, to tell a copy a job changed from one it may reuse. */
  private readonly stagedCopies = new StagedCopies();
  /** Files from the master that running jobs get while they run (realtimeInPaths). */
  private readonly realtime = new ChunkWriter();

  get handle(): string {
    return this.opts.handle;
  }

  get basePath(): string {
    return this.opts.basePath;
  }

  constructor(private readonly opts: WorkerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? logByTurn(opts.verbosity ?? Verbosity.NORMAL);
    this.tenure = new Tenure(
      { lifetimeMs: opts.lifetimeMs ?? null, walltimeMs: opts.walltimeMs ?? null, marginMs: 2 * opts.heartbeatMs + TENURE_MARGIN_MS },
      this.clock,
    );
    this.left = new Promise((resolve) => (this.leave = resolve));
    mkdirSync(mirrorRoot(opts.basePath), { recursive: true });
    const common = { handle: opts.handle, basePath: opts.basePath, killGraceMs: opts.killGraceMs, clock: this.clock };
    this.processes = new ProcessSide(common);
    this.docker = new DockerSide({ ...common, docker: opts.docker ?? { image: null, require: false, user: null }, log: this.log });
    this.link = new MasterLink(
      { url: opts.url, token: opts.token, ...(opts.ca ? { ca: opts.ca } : {}), log: this.log, clock: this.clock },
      { opened: () => this.hello(), message: (m) => this.onMessage(m), chunk: (h, d) => this.onChunk(h, d) },
    );
    this.delivery = new Delivery(this.link, this.log, opts.maxOutputEntries ?? MAX_WALK_ENTRIES);
  }

  /** Finds the Docker engine and the runs left from a previous run, then connects. */
  async start(): Promise<void> {
    await this.docker.open();
    this.log(this.processes.describe());
    await this.docker.prepareMounts();
    for (const run of this.processes.adopt()) {
      if (this.held.has(run.job.lease)) continue;
      this.log(`Took back ${run.job.handle}, a process job started before this worker restarted`);
      this.holdTakenBack(run);
    }
    this.docker.describe();
    for (const run of await this.docker.adopt((lease) => this.held.has(lease))) this.holdTakenBack(run);
    // Files of jobs a version that kept them all left behind: in the background, a few at a time.
    sweepJobFiles(this.opts.basePath, (handle) => this.copiesOf(handle).length > 0);
    this.link.connect();
    this.timers.push(setInterval(() => this.heartbeat(), this.opts.heartbeatMs));
    this.timers.push(setInterval(() => this.processes.sample(this.runs().map((h) => h.run)), SAMPLE_MS));
    this.timers.push(setInterval(() => this.delivery.tick(this.held.values()), OUTPUT_MS));
    this.timers.push(setInterval(() => this.sendProgress(), PROGRESS_MS));
    this.timers.push(setInterval(() => this.sampleDisks(), DISK_MS));
    this.timers.push(setInterval(() => this.delivery.syncOutputs(this.held.values()), OUTFILES_MS));
  }

  /** A new socket: everything held is listed, and what was unacknowledged goes again after the welcome. */
  private hello(): void {
    for (const h of this.held.values()) h.reconnected();
    this.link.send({
      type: 'workerHello',
      handle: this.opts.handle,
      slots: this.stopped ? 1 : this.opts.slots,
      maxTime: this.tenure.maxTime(this.opts.maxTime),
      resources: this.resources(),
      running: [...this.held.values()].filter((h) => h.listed).map((h) => ({ handle: h.handle, lease: h.lease, started: h.files !== null })),
    });
    if (this.stopped) this.link.send({ type: 'stopping' });
  }

  private resources() {
    const table = readProcTable();
    const now = this.clock.now();
    const busy = busyProcesses(this.prevTable, table, now - this.prevTableAt);
    this.prevTable = table;
    this.prevTableAt = now;
    const docker = { version: this.docker.version, bare: this.docker.bare, queues: this.opts.queues ?? [], policy: this.docker.policy };
    return resources(this.opts.hostname, this.opts.basePath, busy, docker, this.processes.isolation, this.opts.minFreeDisk ?? 0);
  }

  /** A run found again after a restart goes back under its lease, and its result will follow. */
  private holdTakenBack(run: Execution): void {
    const h = HeldJob.takenBack(run);
    h.outSync = this.delivery.outSyncFor(run.job, run.root, []);
    this.held.set(run.job.lease, h);
    void run.result.then((result) => this.ended(h, result));
  }

  private onMessage(msg: MasterToWorker): void {
    switch (msg.type) {
      case 'welcome':
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
        // Results that ended while we were apart go out once their output has.
        for (const h of this.held.values()) this.delivery.deliver(h);
        return;
      case 'assign':
        this.assigned(msg.job);
        return;
      case 'killJob': {
        const h = this.held.get(msg.lease);
        if (h) this.kill(h, msg.reason);
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
      case 'resetScratch':
        this.resetPending = true;
        this.resetIfIdle();
        return;
      case 'error':
        this.log(`Master: ${msg.message}`);
        return;
    }
  }

  /** Empties the basePath for -resetWorkers, once no job is held (their files live there). */
  private resetIfIdle(): void {
    if (!this.resetPending || this.held.size > 0 || this.disposing.size > 0) return;
    this.resetPending = false;
    try {
      const removed = emptyScratch(this.opts.basePath);
      this.log(`Emptied ${this.opts.basePath} (${removed} entries), as the master asked`);
      this.link.send({ type: 'scratchReset', removed });
    } catch (e) {
      this.log.warn(`Could not empty ${this.opts.basePath}: ${(e as Error).message}`);
    }
  }

  /** A kill before there is a run is kept: the job ends with it instead of starting. */
  private kill(h: HeldJob, reason: string): void {
    if (h.run) h.run.kill(reason);
    else if (h.phase === Phases.waiting) h.killReason ??= reason;
    else if (h.stager?.staging) {
      h.killReason ??= reason;
      h.stager.fail(reason);
    }
  }

  /**
   * Nothing more of this job is to be sent (its result was acknowledged, or it was taken
   * away): its run lets go, and its files here go, unless a newer copy of it holds them now.
   */
  private forget(h: HeldJob): void {
    const run = h.setModeGone();
    this.held.delete(h.lease);
    const cleanup = run ? run.dispose() : Promise.resolve();
    const done = cleanup
      .then(() => {
        if (this.copiesOf(h.handle).length === 0) removeJobFiles(this.opts.basePath, h.handle);
      })
      .catch((e: Error) => this.log.warn(`Could not clean up after ${h.handle}: ${e.message}`));
    this.disposing.add(done);
    void done.finally(() => {
      this.disposing.delete(done);
      this.resetIfIdle();
    });
  }

  /**
   * The job goes back to the queue as it is: this worker is stopping and never started it (or
   * stopped it). A pilot that was ended (-termWorkers, its batch system) counts a job it had
   * started against the job's -retries, as a lost worker does: it is not coming back.
   */
  private handBack(h: HeldJob, ran = false): void {
    const lost = ran && this.tenure.ends ? { lost: `${this.stopReason} (a pilot, ended)` } : {};
    this.link.send({ type: 'release', handle: h.handle, lease: h.lease, ...lost });
    this.forget(h);
  }

  /**
   * Gives a job back to the queue: this worker cannot run it now. `ran`: the job had started,
   * so the master counts this against its -retries.
   */
  private giveBack(h: HeldJob, why: string, ran = false): void {
    this.log(`Giving back ${h.handle}: ${why}`);
    // The master learns first what this worker can run, so it does not send the job again.
    this.link.send({ type: 'heartbeat', resources: this.resources() });
    this.link.send({ type: 'release', handle: h.handle, lease: h.lease, ...(ran ? { lost: why } : {}) });
    this.forget(h);
  }

  private drop(lease: string): void {
    const h = this.held.get(lease);
    if (!h) return;
    const was = h.phase;
    if (!h.setModeDropped()) return;
    if (h.run) h.run.kill(Reasons.takenAway); // forgotten when it has ended
    else if (h.stager?.staging) h.stager.fail(Reasons.takenAway); // forgotten when it fails
    else if (was !== Phases.waiting) this.forget(h); // a waiting one is forgotten when its turn comes
  }

  private assigned(job: Assignment): void {
    if (this.stopped) {
      this.link.send({ type: 'release', handle: job.handle, lease: job.lease });
      return;
    }
    if (this.held.has(job.lease)) return; // a repeated message
    // Older copies of this job (we were apart, the master gave it again): they go.
    const older = this.copiesOf(job.handle);
    for (const o of older) this.drop(o.lease);
    const dying = older.map((o) => o.run?.result).filter((r): r is Promise<Result> => r !== undefined);
    const h = HeldJob.assigned(job, dying.length > 0);
    this.held.set(job.lease, h);
    if (dying.length === 0) return this.stageThenRun(job, h);
    void Promise.all(dying).then(() => {
      if (h.dropped) return this.forget(h);
      if (this.stopped) return this.handBack(h);
      if (h.killReason) return this.ended(h, resultWithoutRun(ExitCodes.TERMINATED, h.killReason));
      this.stageThenRun(job, h);
    });
  }

  /** Fetches the job's inputs (if it has any to fetch), then runs it. */
  private stageThenRun(job: Assignment, h: HeldJob): void {
    h.setModeStaging(null);
    const free = freeDiskMb(this.opts.basePath);
    if (lowOnDisk({ freeDisk: free, minFreeDisk: this.opts.minFreeDisk ?? 0 })) {
      return this.giveBack(h, `only ${formatSize(free)} free under ${this.opts.basePath} (-minFreeDisk ${formatSize(this.opts.minFreeDisk!)})`);
    }
    try {
      checkJobPaths(job, [this.opts.basePath, this.processes.realBase]);
    } catch (e) {
      return this.ended(h, resultWithoutRun(ExitCodes.NOT_PROVIDED, `Could not place the job here: ${(e as Error).message}`));
    }
    const image = this.docker.imageFor(job);
    if (image === false) {
      return this.giveBack(h, job.dockerImage ? 'no Docker engine answers' : 'this worker runs only Docker jobs');
    }
    // The master sends no job this worker's policy refuses; one that came anyway (an older
    // master) ends here, before anything of it runs.
    const refused = image === null ? null : refusal(this.docker.policy, job.network, job.dockerImage);
    if (refused) return this.ended(h, resultWithoutRun(ExitCodes.NOT_PROVIDED, `Not run: ${refused}`));
    const hasInputs = !job.shareWorkingPath && job.inPaths.length + job.realtimeInPaths.length > 0;
    if (!hasInputs) {
      h.outSync = this.delivery.outSyncFor(job, jobRoot(job, this.opts.basePath), []);
      return this.startRun(job, h, image);
    }
    const stager = new Stager(job, jobRoot(job, this.opts.basePath), (m) => this.link.send(m), this.stagedCopies);
    h.setModeStaging(stager);
    stager.begin();
    stager.ready.then(
      (inputs) => {
        if (h.dropped) {
          h.settle();
          return this.forget(h);
        }
        h.outSync = this.delivery.outSyncFor(job, jobRoot(job, this.opts.basePath), inputs);
        this.startRun(job, h, image);
      },
      (e: Error) => {
        h.settle();
        if (h.dropped) return this.forget(h);
        if (this.stopped && !h.killReason) return this.handBack(h);
        if (h.killReason) this.ended(h, resultWithoutRun(ExitCodes.TERMINATED, h.killReason));
        else this.ended(h, resultWithoutRun(ExitCodes.NOT_PROVIDED, `Could not copy its inputs: ${e.message}`));
      },
    );
  }

  private startRun(job: Assignment, h: HeldJob, image: string | null): void {
    this.log(`Running ${job.handle}${image ? ` in ${image}` : ''}: ${job.command}`);
    let run: Execution;
    try {
      run = image ? this.docker.start(job, image) : this.processes.start(job, job.cidFile ? () => void this.docker.stopItsContainer(job) : undefined);
    } catch (e) {
      return this.ended(h, resultWithoutRun(ExitCodes.NOT_FOUND, `Could not start: ${(e as Error).message}`));
    }
    h.setModeRunning(run);
    this.link.send({ type: 'started', handle: job.handle, lease: job.lease });
    this.delivery.started(h);
    void run.result.then((result) => {
      const lost = run.engineLost;
      if (lost && !h.dropped) {
        // Not the job's fault: it goes back to the queue, and the master hears first that
        // this worker has no engine now.
        h.settle();
        this.docker.lost(lost.why);
        this.giveBack(h, lost.why, lost.ran);
        return;
      }
      this.ended(h, result);
    });
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
    const run = h.run;
    if (!run || !run.job.realtimeInPaths.includes(header.path)) return;
    try {
      this.realtime.write(run.root, jobRel(header.path), { ...header, append: false, data });
    } catch (e) {
      this.log.warn(`Could not update ${header.path} for ${h.handle}: ${(e as Error).message}`);
    }
  }

  /** The job ended, with or without a run. */
  private ended(h: HeldJob, result: Result): void {
    h.settle();
    this.processes.jobEnded();
    this.log(`Finished ${h.handle}: exit ${result.exitCode}${result.exitReason ? ` (${result.exitReason})` : ''}`);
    if (h.dropped) return this.forget(h);
    // Killed only because this worker is stopping: the job is not at fault, so it goes
    // back to the queue rather than failing.
    if (this.stopped && result.exitReason === this.stopReason) return this.handBack(h, true);
    h.setModeDelivering(this.diskCheck(result));
    this.delivery.deliver(h);
  }

  /**
   * A job that ended with the scratch base full may have lost output it wrote: it does not
   * end done, and says why.
   */
  private diskCheck(result: Result): Result {
    const free = freeDiskMb(this.opts.basePath);
    // Full is under a megabyte: merely below -minFreeDisk only stops new jobs coming.
    if (result.exitReason !== null || free < 0 || free >= 1) return result;
    return { ...result, exitReason: Reasons.diskFullAtEnd(free, this.opts.basePath) };
  }

  private heartbeat(): void {
    const probed = this.stopped ? Promise.resolve() : this.docker.probe((lease) => this.held.has(lease));
    void probed.then(() => this.link.send({ type: 'heartbeat', resources: this.resources(), maxTime: this.tenure.maxTime(this.opts.maxTime) }));
    const why = this.stopped ? null : this.tenure.due(this.held.size);
    if (why) void this.leaveNow(why);
  }

  /** -lifetime or -walltime: says it is leaving for good (the master forgets it), stops, and ends. */
  private async leaveNow(why: string): Promise<void> {
    this.log(`Leaving: ${why}`);
    await this.stop();
    this.leave(why);
  }

  /** The copies of a job this worker holds (more than one only while an old one dies). */
  private copiesOf(handle: string): HeldJob[] {
    return [...this.held.values()].filter((h) => h.handle === handle);
  }

  private runs(): (HeldJob & { run: Execution })[] {
    return [...this.held.values()].filter((h): h is HeldJob & { run: Execution } => h.run !== null);
  }

  private sampleDisks(): void {
    for (const h of this.runs()) void h.run.sampleDisk();
  }

  private sendProgress(): void {
    for (const h of this.runs()) {
      if (!h.dropped) this.link.send({ type: 'progress', handle: h.handle, lease: h.lease, stats: h.run.stats() });
    }
  }

  /** Stops taking work, kills what runs, and hands those jobs back to the master. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopReason = `Worker ${this.opts.handle} stopped`;
    // A worker with a tenure (a pilot) does not come back under its handle: it leaves for good.
    this.link.send({ type: 'stopping', ...(this.tenure.ends ? { leaving: true } : {}) });
    this.link.stopReconnecting();
    const runs = this.runs();
    for (const h of runs) h.run.kill(this.stopReason);
    // Jobs still fetching inputs go back to the queue as they are.
    for (const h of this.held.values()) if (h.stager?.staging) h.stager.fail(this.stopReason);
    await Promise.all(runs.map((h) => h.run.result));
    // Heartbeats went on during the grace period, so the master did not count us lost.
    for (const t of this.timers) clearInterval(t);
    this.processes.close();
    // Give the releases and results a moment to reach the master, and containers time to go.
    const cleanup = Promise.all([...this.disposing]);
    await Promise.race([cleanup, new Promise((r) => setTimeout(r, CLEANUP_MS))]);
    await new Promise((r) => setTimeout(r, runs.length ? 200 : 0));
    this.link.close();
  }
}
