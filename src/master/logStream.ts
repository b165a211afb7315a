// Sends a job's log to a client in pieces of 1 MB, each only while little waits in the
// client's socket: a log of any size is read without holding it in memory (a 450 MB log
// once failed as a string too long, a 2 GB one printed nothing), and the master's event loop
// is never held by one read.
import { open, type FileHandle } from 'node:fs/promises';

const PIECE = 1024 * 1024;
/** Bytes allowed to wait in the client's socket before the next piece is read. */
const MAX_BUFFERED = 4 * 1024 * 1024;

export interface LogSink {
  data(chunk: Buffer): void;
  /** How much waits in the client's socket; Infinity once it is closed. */
  buffered(): number;
}

/** Where the last `lines` lines of the file begin (read backwards, a piece at a time). */
async function tailStart(fh: FileHandle, size: number, lines: number): Promise<number> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  let seen = 0;
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - buf.length);
    const { bytesRead } = await fh.read(buf, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) {
      // A last line without its newline counts as a line; the newline ending the file does not.
      if (buf[i] === 10 && start + i !== size - 1 && ++seen === lines) return start + i + 1;
    }
    end = start;
  }
  return 0;
}

/**
 * Sends bytes [0, end) of `path` (or to its end, when `end` is null), or only its first
 * `head` / last `tail` lines; resolves when sent or the client went.
 */
export async function sendLogFile(path: string, end: number | null, sink: LogSink, range: { head?: number; tail?: number } = {}): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return; // no output yet
  }
  try {
    const buf = Buffer.allocUnsafe(PIECE);
    const size = end ?? (await fh.stat()).size;
    let pos = range.tail ? await tailStart(fh, size, range.tail) : 0;
    let lines = 0;
    for (; end === null || pos < end; ) {
      while (sink.buffered() > MAX_BUFFERED) {
        if (!Number.isFinite(sink.buffered())) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      const want = end === null ? PIECE : Math.min(PIECE, end - pos);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
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
    await fh.close();
  }
}
