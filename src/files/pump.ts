// Sends files over a WebSocket as chunk frames, one chunk at a time per file and only while
// the socket has little waiting: a 1 GB file never sits in memory, and the small messages of
// other jobs never queue behind more than about a megabyte of file data.
import { closeSync, fstatSync, readSync } from 'node:fs';
import { openRegularBeneath } from './beneath.js';
import type { WebSocket } from 'ws';
import { CHUNK_BYTES, encodeChunk, MAX_CHUNK_HEADER_BYTES, type ChunkHeader } from '../protocol/frames.js';

/** File data allowed to wait in the socket before the pump holds back. */
const MAX_BUFFERED = 1024 * 1024;
/** A frame: length, header, data. */
const FRAME_BYTES = 4 + MAX_CHUNK_HEADER_BYTES + CHUNK_BYTES;

/**
 * Writes the frame's length and header; returns where its data starts. A header that does
 * not fit is refused whole, never cut (a cut one was a corrupt frame counted as sent).
 */
export function writeHeader(frame: Buffer, header: ChunkHeader): number {
  const json = JSON.stringify(header);
  const len = Buffer.byteLength(json, 'utf8');
  if (len > MAX_CHUNK_HEADER_BYTES) throw new Error(`a chunk header of ${len} bytes is more than ${MAX_CHUNK_HEADER_BYTES}`);
  frame.write(json, 4, len, 'utf8');
  frame.writeUInt32BE(len, 0);
  return 4 + len;
}

/**
 * How a send ended: `sent` (every byte went into the socket, up to `size` as it was when
 * opened), `unreadable` (the file could not be opened or read), `lost` (the socket went).
 */
export type SendEnd = { end: 'sent'; size: number; mtimeMs: number; ino: number; resumed: boolean } | { end: 'unreadable' } | { end: 'lost' };

/** What the pump found when it opened a file: where it starts, and whether that is a resume. */
export interface Opened {
  mtimeMs: number;
  mode: number;
  /** The send goes on from `resume.at` of a copy the other side already has. */
  resumed: boolean;
}

export interface Send {
  /** The local file to read: `rel` beneath `root`, through no link (see beneath.ts). */
  root: string;
  rel: string;
  /** First byte to send (a resume has its own). */
  from: number;
  /**
   * Send only what follows `at`, if the file (as opened) is at least that long and `verify`,
   * given the open file, agrees that what the other side has is still its start; otherwise
   * the whole file.
   */
  resume?: { at: number; verify?: (fd: number, st: { size: number; ino: number }) => boolean };
  /** The frame header for a chunk at `offset` (eof: the last one). */
  header(offset: number, eof: boolean, info: Opened): ChunkHeader;
  /** The file was opened: how the send goes. */
  opened?(info: Opened): void;
  /** Each piece of the file as it goes out, in order (a resume's from `resume.at`). */
  data?(bytes: Buffer): void;
  done(how: SendEnd): void;
}

interface Open extends Opened {
  send: Send;
  fd: number;
  size: number;
  offset: number;
  ino: number;
}

export class ChunkPump {
  private readonly queue: Send[] = [];
  private current: Open | null = null;
  private socket: WebSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  /** Frames whose send has completed, for reuse: a long transfer allocates nothing per chunk. */
  private readonly free: Buffer[] = [];

  /** Sends go to this socket from now on; what was queued for an older one fails. */
  attach(socket: WebSocket | null): void {
    if (socket === this.socket) return;
    this.socket = socket;
    this.failAll();
  }

  enqueue(send: Send): void {
    this.queue.push(send);
    this.kick();
  }

  get pending(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  failAll(): void {
    if (this.current) {
      closeSync(this.current.fd);
      this.current.send.done({ end: 'lost' });
      this.current = null;
    }
    for (const s of this.queue.splice(0)) s.done({ end: 'lost' });
  }

  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.run();
    });
  }

  private open(send: Send): Open | null {
    try {
      const fd = openRegularBeneath(send.root, send.rel);
      if (fd === null) return null;
      const st = fstatSync(fd);
      const r = send.resume;
      const resumed = r !== undefined && st.size >= r.at && (r.verify?.(fd, st) ?? true);
      const offset = resumed ? r.at : Math.min(send.from, st.size);
      const open = { send, fd, size: st.size, offset, ino: st.ino, mtimeMs: Math.trunc(st.mtimeMs), mode: st.mode & 0o7777, resumed };
      send.opened?.(open);
      return open;
    } catch {
      return null;
    }
  }

  private run(): void {
    const ws = this.socket;
    if (!ws || ws.readyState !== ws.OPEN) return this.failAll();
    while (ws.bufferedAmount < MAX_BUFFERED) {
      if (!this.current) {
        const next = this.queue.shift();
        if (!next) return;
        this.current = this.open(next);
        if (!this.current) {
          next.done({ end: 'unreadable' });
          continue;
        }
      }
      const c = this.current;
      const want = Math.min(CHUNK_BYTES, c.size - c.offset);
      let eof = c.offset + want >= c.size;
      const frame = this.free.pop() ?? Buffer.allocUnsafeSlow(FRAME_BYTES);
      const head = writeHeader(frame, c.send.header(c.offset, eof, c));
      let n = 0;
      try {
        n = readSync(c.fd, frame, head, want, c.offset);
      } catch {
        n = -1;
      }
      if (n < 0) {
        this.free.push(frame);
        closeSync(c.fd);
        this.current = null;
        c.send.done({ end: 'unreadable' });
        continue;
      }
      c.send.data?.(frame.subarray(head, head + n));
      let out = frame.subarray(0, head + n);
      if (n < want) {
        // The file shrank while being sent: it ends where it now ends.
        eof = true;
        out = encodeChunk(c.send.header(c.offset, true, c), Buffer.from(frame.subarray(head, head + n)));
        this.free.push(frame);
      }
      // Once written out the frame is free again, and the socket has room: carry on at once.
      ws.send(out, () => {
        if (out.buffer === frame.buffer) this.free.push(frame);
        this.kick();
      });
      c.offset += n;
      if (eof) {
        closeSync(c.fd);
        this.current = null;
        c.send.done({ end: 'sent', size: c.offset, mtimeMs: c.mtimeMs, ino: c.ino, resumed: c.resumed });
      }
    }
    // Backed up: a send's callback kicks when the socket drains; this is the fallback.
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.run();
    }, 20);
  }
}
