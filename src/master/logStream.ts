// Sends a job's log to a client in pieces of 1 MB, each only while little waits in the
// client's socket: a log of any size is read without holding it in memory (a 450 MB log
// once failed as a string too long, a 2 GB one printed nothing), and the master's event loop
// is never held by one read.
import type { LogSnapshot } from './logSnapshot.js';

const PIECE = 1024 * 1024;
/** Bytes allowed to wait in the client's socket before the next piece is read. */
const MAX_BUFFERED = 4 * 1024 * 1024;

export interface LogSink {
  data(chunk: Buffer): void;
  /** How much waits in the client's socket; Infinity once it is closed. */
  buffered(): number;
}

/** Where the last `lines` lines of the log begin (read backwards, a piece at a time). */
async function tailStart(log: LogSnapshot, size: number, lines: number): Promise<number> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  let seen = 0;
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - buf.length);
    const bytesRead = await log.read(buf, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) {
      // A last line without its newline counts as a line; the newline ending the file does not.
      if (buf[i] === 10 && start + i !== size - 1 && ++seen === lines) return start + i + 1;
    }
    end = start;
  }
  return 0;
}

/**
 * Sends the snapshot, or only its first `head` / last `tail` lines, and closes it; resolves
 * when sent or the client went.
 */
export async function sendLog(log: LogSnapshot, sink: LogSink, range: { head?: number; tail?: number } = {}): Promise<void> {
  try {
    const buf = Buffer.allocUnsafe(PIECE);
    const size = log.size;
    let pos = range.tail ? await tailStart(log, size, range.tail) : 0;
    let lines = 0;
    while (pos < size) {
      while (sink.buffered() > MAX_BUFFERED) {
        if (!Number.isFinite(sink.buffered())) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      const bytesRead = await log.read(buf, Math.min(PIECE, size - pos), pos);
      if (bytesRead <= 0) return;
      let n = bytesRead;
      if (range.head) {
        for (let i = 0; i < bytesRead; i++) {
          if (buf[i] === 10 && ++lines === range.head) {
            n = i + 1;
            break;
          }
        }
      }
      sink.data(Buffer.from(buf.subarray(0, n)));
      pos += n;
      if (range.head && lines >= range.head) return;
    }
  } finally {
    log.close();
  }
}
