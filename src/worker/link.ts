// The worker's connection to the master: one WebSocket at a time, reconnected with
// exponential backoff and full jitter, messages checked against the protocol as they arrive.
// File chunks to the master go through its pump, which follows the socket across reconnects.
//
// `connected` means open *and* welcomed: output, outputs and results wait for the welcome,
// which says how much of each job's output the master has. Sent before it, a chunk would land
// past a gap the welcome's positions then skip.
import type { Clock } from '../common/clock.js';
import { WebSocket } from 'ws';
import { ChunkPump } from '../files/pump.js';
import { MAX_FRAME_BYTES, decode, encode, frameBytes } from '../protocol/codec.js';
import { decodeChunk, type ChunkHeader } from '../protocol/frames.js';
import { MasterToWorkerSchema, type MasterToWorker, type WorkerMessage } from '../protocol/workerMessages.js';
import { traceLine, type Log } from '../common/verbosity.js';

export interface LinkOptions {
  url: string;
  token: string;
  /** With a wss:// url: the certificate to trust. */
  ca?: Buffer;
  log: Log;
  clock: Clock;
}

export interface LinkEvents {
  /** A new socket is open: say hello (nothing else is sent before the welcome). */
  opened(): void;
  message(msg: MasterToWorker): void;
  chunk(header: ChunkHeader, data: Buffer): void;
}

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
const HANDSHAKE_MS = 5000;
/** While the master cannot be reached: a line at once, then one a minute. */
const UNREACHABLE_EVERY_MS = 60_000;

export class MasterLink {
  private socket: WebSocket | null = null;
  private backoffMs = FIRST_BACKOFF_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private welcomed = false;
  private closing = false;
  /** Since when the master could not be reached (null: it was, last time), and when that was last said. */
  private unreachableSince: number | null = null;
  private saidAt = -Infinity;
  /** Files to the master (outputs). */
  readonly pump = new ChunkPump();

  constructor(
    private readonly opts: LinkOptions,
    private readonly events: LinkEvents,
  ) {}

  /** Open and welcomed: see the top of this file. */
  get connected(): boolean {
    return this.welcomed && this.socket?.readyState === WebSocket.OPEN;
  }

  /** Bytes waiting in the socket (a slow link): senders of bulk data hold back on it. */
  get buffered(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  connect(): void {
    if (this.closing) return;
    const ws = new WebSocket(this.opts.url, {
      headers: { authorization: `Bearer ${this.opts.token}`, 'x-q-role': 'worker' },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: HANDSHAKE_MS,
      perMessageDeflate: false,
      ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      // Masking (RFC 6455) guards proxies against scripts in browsers; a worker is not one,
      // and XOR-ing every byte of a large file costs more CPU than sending it.
      generateMask: () => {},
    });
    this.socket = ws;
    this.opts.log.trace(`Connecting to ${this.opts.url}`);
    let opened = false;
    ws.on('open', () => {
      opened = true;
      if (this.unreachableSince !== null) this.opts.log(`Reached the master at ${this.opts.url}`);
      this.unreachableSince = null;
      this.backoffMs = FIRST_BACKOFF_MS;
      this.welcomed = false;
      this.pump.attach(ws);
      this.events.opened();
    });
    ws.on('unexpected-response', (_req, res) => {
      if (res.statusCode === 503) this.opts.log.warn('The master turned this worker away: too many connections are waiting for it; trying again');
      else this.opts.log.warn(`Master refused this worker: ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
      if (res.statusCode === 401) this.opts.log.warn('Check the token (-token, Q_TOKEN or the master state directory).');
      // With this listener ws leaves the socket to us: ended here, its 'close' reconnects.
      ws.terminate();
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const chunk = decodeChunk(frameBytes(data));
        if (this.opts.log.tracing) this.opts.log.trace(`← master (file chunk${chunk.ok ? ` of ${chunk.header.handle} ${chunk.header.path}` : ''}, ${chunk.ok ? chunk.data.length : '?'} bytes)`);
        if (chunk.ok) this.events.chunk(chunk.header, chunk.data);
        else this.opts.log.warn(`Ignored a bad file chunk from the master: ${chunk.error}`);
        return;
      }
      if (this.opts.log.tracing) this.opts.log.trace(traceLine('←', 'master', frameBytes(data)));
      const decoded = decode(MasterToWorkerSchema, data);
      if (!decoded.ok) {
        this.opts.log.warn(`Ignored a bad message from the master: ${decoded.error}`);
        return;
      }
      if (decoded.msg.type === 'welcome' && ws === this.socket) this.welcomed = true;
      this.events.message(decoded.msg);
    });
    ws.on('error', (e: NodeJS.ErrnoException) => {
      // 'close' follows and reconnects
      if (!opened) this.unreachable(e.code === 'ECONNREFUSED' ? 'nothing is listening there' : e.message);
    });
    ws.on('close', () => {
      if (this.socket === ws) {
        this.socket = null;
        this.pump.attach(null);
      }
      this.scheduleReconnect();
    });
  }

  /** A connection attempt failed: said at once, then once a minute while it goes on. */
  private unreachable(why: string): void {
    const now = this.opts.clock.now();
    this.unreachableSince ??= now;
    if (now - this.saidAt < UNREACHABLE_EVERY_MS) return;
    this.saidAt = now;
    const since = now - this.unreachableSince >= 1000 ? ` (for ${Math.round((now - this.unreachableSince) / 1000)} s)` : '';
    this.opts.log.warn(`Cannot reach the master at ${this.opts.url}: ${why}${since}; trying again`);
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closing) return;
    // Full jitter: many workers losing one master do not all come back in the same instant.
    const delay = Math.random() * this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** Sent if a socket is open; dropped otherwise (what matters is sent again after the welcome). */
  send(msg: WorkerMessage): void {
    const ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const text = encode(msg);
    if (this.opts.log.tracing) this.opts.log.trace(traceLine('→', 'master', text));
    ws.send(text);
  }

  /** No more reconnecting; the current socket stays until close(). */
  stopReconnecting(): void {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  close(): void {
    this.stopReconnecting();
    this.socket?.close();
  }
}
