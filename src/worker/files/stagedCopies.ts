// The inputs this worker staged, as it left them: which file each is (device and inode) and
// when it last changed (ctime, to the nanosecond). A later job that names the same input
// reuses the copy only if it is still that file, unchanged since: size and mtime alone can be
// put back by a job that rewrote its copy (`touch -r`), ctime cannot be set by anyone but the
// kernel's clock. Kept in memory: a restarted worker fetches its inputs again.
import { lstatSync, type BigIntStats } from 'node:fs';

/** Copies remembered at most; the oldest are forgotten first (and fetched again if named). */
const MAX_COPIES = 1_000_000;

interface Mark {
  dev: bigint;
  ino: bigint;
  ctimeNs: bigint;
}

export class StagedCopies {
  private readonly marks = new Map<string, Mark>();

  /** The copy at `key` was just written; `st` is its fstat after it took its name. */
  note(key: string, st: BigIntStats): void {
    this.marks.delete(key);
    if (this.marks.size >= MAX_COPIES) this.marks.delete(this.marks.keys().next().value!);
    this.marks.set(key, { dev: st.dev, ino: st.ino, ctimeNs: st.ctimeNs });
  }

  /**
   * Whether the file at `path` (opened through no link: a `/proc/self/fd/N/NAME`) is the copy
   * noted under `key`, unchanged since, and of the input's size and mtime.
   */
  unchanged(key: string, path: string | Buffer, size: number, mtimeMs: number): boolean {
    const m = this.marks.get(key);
    if (!m) return false;
    let st: BigIntStats;
    try {
      st = lstatSync(path, { bigint: true });
    } catch {
      return false;
    }
    // (mtime within a millisecond: a time set through utimes comes back a hair below it)
    const sameInput = st.isFile() && Number(st.size) === size && Math.abs(Number(st.mtimeNs) / 1e6 - mtimeMs) < 1;
    return sameInput && st.dev === m.dev && st.ino === m.ino && st.ctimeNs === m.ctimeNs;
  }
}
