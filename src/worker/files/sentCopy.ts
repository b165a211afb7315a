// What the master holds of one output file, as this worker sent it: its size and mtime, the
// file's identity on this side, a running digest of every byte sent, and the last few of
// them. A file that only grew (same file, more bytes, what was sent still its start) is sent
// on from where it was, and the master appends to its copy in place: a reader that opened the
// copy once (CodaLab's `cl run -t` follows DIR/UUID/stdout so) sees every byte in order.
//
// While the job runs, "still its start" is checked on the last bytes sent (TAIL of them): a
// read of a few KB per grown file and pass. A change further back is caught by the last copy,
// which compares the digest of the whole file with the digest of what was sent and replaces
// a copy that differs (verify()).
import { createHash, type Hash } from 'node:crypto';
import { closeSync, read, readSync } from 'node:fs';
import { openRegularBeneath } from '../../files/beneath.js';

/** Bytes before the end of what was sent that a resume checks are unchanged. */
const TAIL = 4096;
/** Read size of the last copy's check. */
const VERIFY_CHUNK = 1024 * 1024;

export class SentCopy {
  /** Appended to at least once: the last copy checks the whole file. */
  grown = false;
  /** The master's copy must be replaced whole, whatever the file's size and mtime. */
  stale = false;
  size = 0;
  mtimeMs = 0;
  private ino = -1;
  private tail = Buffer.alloc(0);

  /** @param digest the bytes sent so far; null when not known (no resume is then offered) */
  private constructor(private digest: Hash | null) {}

  /** A file the master has as it was when staged (an input inside the outPath): never resumed. */
  static staged(size: number, mtimeMs: number): SentCopy {
    const c = new SentCopy(null);
    c.size = size;
    c.mtimeMs = mtimeMs;
    return c;
  }

  /** A send about to start, whole (`from` null) or on from `from` of the copy in `prev`. */
  static starting(prev: SentCopy | undefined): SentCopy {
    const c = new SentCopy(prev?.digest ?? null);
    if (prev) {
      c.grown = prev.grown;
      c.tail = prev.tail;
      c.size = prev.size;
      c.ino = prev.ino;
    }
    return c;
  }

  /** Whether what was sent is known (a digest of it). */
  get known(): boolean {
    return this.digest !== null;
  }

  /** Whether a file of this size and mtime is the one sent (nothing to do). */
  same(size: number, mtimeMs: number): boolean {
    return !this.stale && this.size === size && this.mtimeMs === mtimeMs;
  }

  /** Whether a file now `size` bytes long may be sent on from the end of this copy. */
  mayResume(size: number, append: boolean): boolean {
    if (this.stale) return false;
    if (append) return size >= this.size; // append: the job promised it only appends
    return this.digest !== null && (size > this.size || (size === 0 && this.size === 0));
  }

  /** At open, for a `full:` file: the same file, and its bytes before the old end unchanged. */
  stillStartOf(fd: number, st: { size: number; ino: number }): boolean {
    if (st.ino !== this.ino || st.size < this.size) return false;
    if (this.tail.length === 0) return true;
    const buf = Buffer.allocUnsafe(this.tail.length);
    try {
      return readSync(fd, buf, 0, buf.length, this.size - buf.length) === buf.length && buf.equals(this.tail);
    } catch {
      return false;
    }
  }

  /** The send opened the file: a whole send starts the digest again. */
  opened(resumed: boolean): void {
    if (resumed) return;
    this.digest = createHash('sha256');
    this.tail = Buffer.alloc(0);
    this.grown = false;
  }

  /** A piece that went out. */
  sent(bytes: Buffer): void {
    this.digest?.update(bytes);
    if (bytes.length >= TAIL) this.tail = Buffer.from(bytes.subarray(bytes.length - TAIL));
    else this.tail = Buffer.concat([this.tail, bytes]).subarray(-TAIL);
  }

  /** The send completed: this is what the master has. */
  complete(size: number, mtimeMs: number, ino: number, resumed: boolean): void {
    this.size = size;
    this.mtimeMs = mtimeMs;
    this.ino = ino;
    if (resumed) this.grown = true;
  }

  /** The send broke off: what the master has is not known, the next send is whole. */
  unknown(size: number, mtimeMs: number): void {
    this.digest = null;
    this.grown = false;
    this.size = size;
    this.mtimeMs = mtimeMs;
  }

  /**
   * For a copy built by appends: whether `root/rel` is, byte for byte, what was sent (read
   * asynchronously, through no link). False when it cannot be read or differs.
   */
  async verify(root: string, rel: string): Promise<boolean> {
    if (!this.digest) return false;
    let fd: number | null;
    try {
      fd = openRegularBeneath(root, rel);
    } catch {
      return false;
    }
    if (fd === null) return false;
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(VERIFY_CHUNK);
    try {
      for (let pos = 0; pos < this.size; ) {
        const n = await new Promise<number>((res, rej) =>
          read(fd, buf, 0, Math.min(VERIFY_CHUNK, this.size - pos), pos, (e, bytes) => (e ? rej(e) : res(bytes))),
        );
        if (n <= 0) return false;
        h.update(buf.subarray(0, n));
        pos += n;
      }
    } catch {
      return false;
    } finally {
      closeSync(fd);
    }
    return h.digest().equals(this.digest.copy().digest());
  }
}
