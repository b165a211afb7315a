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
import { JobRun } from './runner.js';
import { processTree, readProcTable, type ProcTable } from './procTable.js';
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
  run: JobRun | null;
  /** Set once the job ended; kept until the master acknowledges it. */
  result: Result | null;
  /** The master took the job away: kill it and send nothing more about it. */
  dropped: boolean;
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

  private onMessage(msg: MasterToWorker): void {
    switch (msg.type) {
      case 'welcome':
        for (const d of msg.drop) this.drop(d.handle, d.lease);
        // Results that finished while we were apart: deliver them now.
        for (const [handle, h] of this.held) {
          if (h.result && !h.dropped) this.send({ type: 'finished', handle, lease: h.lease, result: h.result });
        }
        return;
      case 'assign':
        this.run(msg.job);
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
        if (h?.lease === msg.lease && h.result) this.held.delete(msg.handle);
        return;
      }
      case 'error':
        this.log(`Master: ${msg.message}`);
        return;
    }
  }

  private drop(handle: string, lease: string): void {
    const h = this.held.get(handle);
    if (!h || h.lease !== lease) return;
    h.dropped = true;
    if (h.result) this.held.delete(handle);
    else h.run?.kill('The master took this job away');
  }

  /** An idle, live slot shell, or a new one. */
  private shell(): SlotShell {
    for (let i = this.shells.length - 1; i >= 0; i--) if (!this.shells[i]!.alive) this.shells.splice(i, 1);
    const idle = this.shells.find((s) => !s.busy);
    if (idle) return idle;
    const fresh = new SlotShell(process.env);
    this.shells.push(fresh);
    return fresh;
  }

  private run(job: Assignment): void {
    if (this.held.has(job.handle)) return;
    const h: Held = { lease: job.lease, run: null, result: null, dropped: false };
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
    this.send({ type: 'started', handle: job.handle, lease: job.lease });
    void run.result.then((result) => {
      this.drainOutput(job.handle, h, run, Infinity);
      run.stdout.close();
      run.stderr.close();
      this.finished(job.handle, h, result);
    });
  }

  private drainOutput(handle: string, h: Held, run: JobRun, max: number): void {
    for (const [stream, file] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
      for (let budget = max; budget > 0; ) {
        const chunk = file.read(Math.min(budget, OUTPUT_MAX_BYTES));
        if (!chunk) break;
        budget -= chunk.length;
        if (!h.dropped) this.send({ type: 'output', handle, lease: h.lease, stream, data: chunk.toString('base64') });
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
      this.held.delete(handle);
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
   * running (`cmd &` without wait). Those have outlived their job: end them.
   */
  private killLeftovers(table: ProcTable, runs: JobRun[]): void {
    for (const shell of this.shells) {
      if (!shell.alive) continue;
      // The shell's children are its current job (just forked, maybe); a job being killed
      // also keeps the processes it had: its kill decides how they end.
      const current = new Set(runs.find((r) => r.shell === shell)?.processes ?? []);
      for (const p of table.values()) {
        if (p.ppid === shell.pid) for (const d of processTree(table, p.pid)) current.add(d.pid);
      }
      for (const p of table.values()) {
        if (p.pgrp !== shell.pid || p.pid === shell.pid || current.has(p.pid)) continue;
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

  /** Stops taking work, kills what runs, and reports those jobs before closing. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const runs = this.runs();
    for (const [, h] of runs) h.run.kill(`Worker ${this.opts.handle} stopped`);
    await Promise.all(runs.map(([, h]) => h.run.result));
    for (const shell of this.shells) shell.close();
    // Give the results a moment to reach the master.
    await new Promise((r) => setTimeout(r, runs.length ? 200 : 0));
    this.socket?.close();
  }
}
