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
import { readProcTable, type ProcTable } from './procTable.js';
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
const PROGRESS_MS = 1000;
const DISK_MS = 5000;
const OUTPUT_FLUSH_MS = 20;
const OUTPUT_FLUSH_BYTES = 256 * 1024;

interface Held {
  lease: string;
  run: JobRun | null;
  /** Set once the job ended; kept until the master acknowledges it. */
  result: Result | null;
  /** The master took the job away: kill it and send nothing more about it. */
  dropped: boolean;
  pending: { stream: 'stdout' | 'stderr'; chunks: Buffer[]; bytes: number } | null;
  flushTimer: NodeJS.Timeout | null;
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

  private run(job: Assignment): void {
    if (this.held.has(job.handle)) return;
    const h: Held = { lease: job.lease, run: null, result: null, dropped: false, pending: null, flushTimer: null };
    this.held.set(job.handle, h);
    this.log(`Running ${job.handle}: ${job.command}`);
    try {
      h.run = new JobRun(job, {
        basePath: this.opts.basePath,
        killGraceMs: this.opts.killGraceMs,
        clock: this.clock,
        onOutput: (stream, chunk) => this.bufferOutput(job.handle, h, stream, chunk),
      });
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
    this.send({ type: 'started', handle: job.handle, lease: job.lease });
    void h.run.result.then((result) => this.finished(job.handle, h, result));
  }

  /** Output goes out in batches: one message per burst, not one per write of the job. */
  private bufferOutput(handle: string, h: Held, stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (h.pending && h.pending.stream !== stream) this.flushOutput(handle, h);
    h.pending ??= { stream, chunks: [], bytes: 0 };
    h.pending.chunks.push(chunk);
    h.pending.bytes += chunk.length;
    if (h.pending.bytes >= OUTPUT_FLUSH_BYTES) this.flushOutput(handle, h);
    else h.flushTimer ??= setTimeout(() => this.flushOutput(handle, h), OUTPUT_FLUSH_MS);
  }

  private flushOutput(handle: string, h: Held): void {
    if (h.flushTimer) clearTimeout(h.flushTimer);
    h.flushTimer = null;
    const p = h.pending;
    h.pending = null;
    if (!p || h.dropped) return;
    this.send({ type: 'output', handle, lease: h.lease, stream: p.stream, data: Buffer.concat(p.chunks).toString('base64') });
  }

  private finished(handle: string, h: Held, result: Result): void {
    this.flushOutput(handle, h);
    h.run = null;
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
    if (runs.length === 0) return;
    const table = readProcTable();
    for (const [, h] of runs) h.run.sample(table);
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
    // Give the results a moment to reach the master.
    await new Promise((r) => setTimeout(r, runs.length ? 200 : 0));
    this.socket?.close();
  }
}
