// `q -mode worker`: keeps a connection to the master (reconnecting with backoff and jitter),
// runs the jobs it is assigned, streams their output and state, and holds each result until
// the master acknowledges it, re-sending it after a reconnect.
import { WebSocket } from 'ws';
import { mkdirSync } from 'node:fs';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import {
  MAX_FRAME_BYTES,
  MasterToWorkerSchema,
  decode,
  encode,
  type Assignment,
  type MasterToWorker,
  type Result,
  type WorkerMessage,
} from '../protocol/messages.js';
import { JobRun, subshellOf } from './runner.js';
import { readProcTable, type ProcTable } from './procTable.js';
import { SlotShell } from './slotShell.js';
import { busyProcesses, resources } from './sysinfo.js';

export interface WorkerOptions {
  url: string;
  token: string;
  handle: string;
  hostname: string;
  basePath: string;
  slots: number;
  maxTime: number | null;
  heartbeatMs: number;
  killGraceMs: number;
  clock?: Clock;
  log?: (line: string) => void;
}

const SAMPLE_MS = 250;
const OUTPUT_MS = 100;
const PROGRESS_MS = 1000;
const DISK_MS = 5000;
/** Output sent per stream per tick: a chatty job cannot flood the socket. */
const OUTPUT_MAX_BYTES = 1024 * 1024;
/** How long after a job ends the sampler keeps looking for processes it left behind. */
const LEFTOVER_MS = 2000;

interface Held {
  lease: string;
  /** The run while it runs. */
  run: JobRun | null;
  /** The run whose output files are still to be sent, until the result is acknowledged. */
  files: JobRun | null;
  /** Set once the job ended; kept until the master acknowledges it. */
  result: Result | null;
  /** The master took the job away: kill it and send nothing more about it. */
  dropped: boolean;
  /** The same job assigned again under a new lease, to start once this run has ended. */
  next: Assignment | null;
}

export class Worker {
  private socket: WebSocket | null = null;
  private readonly held = new Map<string, Held>();
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private stopped = false;
  private backoffMs = 100;
  private timers: NodeJS.Timeout[] = [];
  private prevTable: ProcTable | null = null;
  private prevTableAt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly shells: SlotShell[] = [];
  /** Shells whose run has not finished yet (see startJob). */
  private readonly owned = new Set<SlotShell>();
  private lastJobEnd = 0;

  get handle(): string {
    return this.opts.handle;
  }

  get basePath(): string {
    return this.opts.basePath;
  }

  constructor(private readonly opts: WorkerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? ((l) => console.log(l));
    mkdirSync(opts.basePath, { recursive: true });
  }

  start(): void {
    this.connect();
    this.timers.push(setInterval(() => this.heartbeat(), this.opts.heartbeatMs));
    this.timers.push(setInterval(() => this.sampleAll(), SAMPLE_MS));
    this.timers.push(setInterval(() => this.sendOutput(), OUTPUT_MS));
    this.timers.push(setInterval(() => this.sendProgress(), PROGRESS_MS));
    this.timers.push(setInterval(() => this.sampleDisks(), DISK_MS));
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url, {
      headers: { authorization: `Bearer ${this.opts.token}`, 'x-q-role': 'worker' },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 5000,
      perMessageDeflate: false,
    });
    this.socket = ws;
    ws.on('open', () => {
      this.backoffMs = 100;
      this.send({
        type: 'workerHello',
        handle: this.opts.handle,
        slots: this.opts.slots,
        maxTime: this.opts.maxTime,
        resources: this.resources(),
        running: [...this.held].filter(([, h]) => !h.dropped).map(([handle, h]) => ({ handle, lease: h.lease })),
      });
    });
    ws.on('unexpected-response', (_req, res) => {
      this.log(`Master refused this worker: ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
      if (res.statusCode === 401) {
        this.log('Check the token (-token, Q_TOKEN or the master state directory).');
      }
    });
    ws.on('message', (data) => {
      const decoded = decode(MasterToWorkerSchema, data);
      if (decoded.ok) this.onMessage(decoded.msg);
      else this.log(`Ignored a bad message from the master: ${decoded.error}`);
    });
    ws.on('error', () => {
      // 'close' follows and reconnects
    });
    ws.on('close', () => {
      if (this.socket === ws) this.socket = null;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
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

  private resources() {
    const table = readProcTable();
    const now = this.clock.now();
    const busy = busyProcesses(this.prevTable, table, now - this.prevTableAt);
    this.prevTable = table;
    this.prevTableAt = now;
    return resources(this.opts.hostname, this.opts.basePath, busy);
  }

  private get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  private onMessage(msg: MasterToWorker): void {
    switch (msg.type) {
      case 'welcome':
        for (const d of msg.drop) this.drop(d.handle, d.lease);
        // Jobs that finished while we were apart: their output, then their results.
        for (const [handle, h] of this.held) {
          if (!h.result || h.dropped) continue;
          if (h.files) this.drainOutput(handle, h, h.files, Infinity);
          this.send({ type: 'finished', handle, lease: h.lease, result: h.result });
        }
        return;
      case 'assign':
        this.assigned(msg.job);
        return;
      case 'killJob': {
        const h = this.held.get(msg.handle);
        if (h?.lease === msg.lease) h.run?.kill(msg.reason);
        return;
      }
      case 'leaseGone':
        this.drop(msg.handle, msg.lease);
        return;
      case 'resultAck': {
        const h = this.held.get(msg.handle);
        if (h?.lease === msg.lease && h.result) this.forget(msg.handle, h);
        return;
      }
      case 'error':
        this.log(`Master: ${msg.message}`);
        return;
    }
  }

  private forget(handle: string, h: Held): void {
    h.files?.stdout.close();
    h.files?.stderr.close();
    h.files = null;
    if (this.held.get(handle) === h) this.held.delete(handle);
  }

  private drop(handle: string, lease: string): void {
    const h = this.held.get(handle);
    if (!h || h.lease !== lease) return;
    h.dropped = true;
    if (h.run) h.run.kill('The master took this job away');
    else this.forget(handle, h);
  }

  /** An idle slot shell that no unfinished run still owns, or a new one. */
  private shell(): SlotShell {
    for (let i = this.shells.length - 1; i >= 0; i--) if (!this.shells[i]!.alive) this.shells.splice(i, 1);
    const idle = this.shells.find((s) => !s.busy && !this.owned.has(s));
    if (idle) return idle;
    const fresh = new SlotShell(process.env);
    this.shells.push(fresh);
    return fresh;
  }

  private assigned(job: Assignment): void {
    if (this.stopped) {
      this.send({ type: 'release', handle: job.handle, lease: job.lease });
      return;
    }
    const h = this.held.get(job.handle);
    if (h) {
      if (h.lease === job.lease) return; // a repeated message
      // Given again under a new lease (we were apart): the old copy goes, then the new one runs.
      h.dropped = true;
      if (h.run) {
        h.run.kill('The master took this job away');
        h.next = job;
        return;
      }
      this.forget(job.handle, h);
    }
    this.startJob(job);
  }

  private startJob(job: Assignment): void {
    const h: Held = { lease: job.lease, run: null, files: null, result: null, dropped: false, next: null };
    this.held.set(job.handle, h);
    this.log(`Running ${job.handle}: ${job.command}`);
    let run: JobRun;
    try {
      run = new JobRun(job, this.shell(), { basePath: this.opts.basePath, killGraceMs: this.opts.killGraceMs, clock: this.clock });
    } catch (e) {
      this.finished(job.handle, h, {
        exitCode: 127,
        exitReason: `Could not start: ${(e as Error).message}`,
        realTime: 0,
        userTime: 0,
        maxMem: -1,
        maxDisk: -1,
      });
      return;
    }
    h.run = run;
    h.files = run;
    // The shell stays this run's until the run is over, even if its subshell has exited: a
    // kill may still be waiting out the grace period before it KILLs the shell's group.
    this.owned.add(run.shell);
    this.send({ type: 'started', handle: job.handle, lease: job.lease });
    void run.result.then((result) => {
      this.owned.delete(run.shell);
      this.drainOutput(job.handle, h, run, Infinity);
      this.finished(job.handle, h, result);
    });
  }

  /** Sends what the job wrote since last time; nothing is read while the master is away. */
  private drainOutput(handle: string, h: Held, run: JobRun, max: number): void {
    if (!this.connected || h.dropped) return;
    for (const [stream, file] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
      for (let budget = max; budget > 0; ) {
        const chunk = file.read(Math.min(budget, OUTPUT_MAX_BYTES));
        if (!chunk) break;
        budget -= chunk.length;
        this.send({ type: 'output', handle, lease: h.lease, stream, data: chunk.toString('base64') });
      }
    }
  }

  private sendOutput(): void {
    for (const [handle, h] of this.runs()) this.drainOutput(handle, h, h.run, OUTPUT_MAX_BYTES);
  }

  private finished(handle: string, h: Held, result: Result): void {
    h.run = null;
    this.lastJobEnd = this.clock.now();
    this.log(`Finished ${handle}: exit ${result.exitCode}${result.exitReason ? ` (${result.exitReason})` : ''}`);
    if (h.dropped) {
      this.forget(handle, h);
      if (h.next) this.startJob(h.next);
      return;
    }
    if (this.stopped) {
      // Killed because this worker is stopping: the job is not at fault, so it goes back to
      // the queue rather than failing.
      this.send({ type: 'release', handle, lease: h.lease });
      this.forget(handle, h);
      return;
    }
    h.result = result;
    this.send({ type: 'finished', handle, lease: h.lease, result });
  }

  private heartbeat(): void {
    this.send({ type: 'heartbeat', resources: this.resources() });
  }

  private runs(): [string, Held & { run: JobRun }][] {
    return [...this.held].filter((e): e is [string, Held & { run: JobRun }] => e[1].run !== null);
  }

  private sampleAll(): void {
    const runs = this.runs();
    if (runs.length === 0 && this.clock.now() - this.lastJobEnd > LEFTOVER_MS) return;
    const table = readProcTable();
    for (const [, h] of runs) h.run.sample(table);
    this.killLeftovers(table, runs.map(([, h]) => h.run));
  }

  /**
   * A slot shell's process group holds its current job and whatever earlier jobs left
   * running (`cmd &` without wait). Those have outlived their job: end them. A process is
   * an earlier job's when it was born before the current job's subshell.
   */
  private killLeftovers(table: ProcTable, runs: JobRun[]): void {
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
    for (const [, h] of this.runs()) void h.run.sampleDisk();
  }

  private sendProgress(): void {
    for (const [handle, h] of this.runs()) {
      if (!h.dropped) this.send({ type: 'progress', handle, lease: h.lease, stats: h.run.stats() });
    }
  }

  /** Stops taking work, kills what runs, and hands those jobs back to the master. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.send({ type: 'stopping' });
    for (const t of this.timers) clearInterval(t);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const runs = this.runs();
    for (const [, h] of runs) h.run.kill(`Worker ${this.opts.handle} stopped`);
    await Promise.all(runs.map(([, h]) => h.run.result));
    for (const shell of this.shells) shell.close();
    // Give the releases a moment to reach the master.
    await new Promise((r) => setTimeout(r, runs.length ? 200 : 0));
    this.socket?.close();
  }
}
