// Writes files that arrive in chunks, each at a path beneath a trusted directory (the
// worker's scratch base, a job's outPath on the master). No link is followed on the way: the
// file's directory is opened part by part and held open while the file is written (see
// beneath.ts), so a directory swapped for a link meanwhile changes nothing. A replaced file
// is written beside its target and renamed over it once complete, so a reader never sees half
// of it and a link at the target is replaced, not followed. An appended file gets each chunk
// at its offset, so a chunk sent twice (after a reconnect) writes the same bytes again. Files
// stay open between chunks, at most MAX_OPEN of them: a sender that starts many files and
// finishes none cannot use up the process's descriptors (the oldest is dropped, its part
// file removed).
import { closeSync, constants, fchmodSync, fstatSync, futimesSync, openSync, renameSync, rmSync, writeSync, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { openDirBeneath, splitLast, type PinnedDir } from './beneath.js';

export interface Chunk {
  append: boolean;
  offset: number;
  eof: boolean;
  mtimeMs: number;
  mode: number;
  data: Buffer;
}

const MAX_OPEN = 64;

/**
 * Where a replacement of `name` is written before it takes the name: `.NAME.q-part`, or for a
 * name too long for that (NAME_MAX is 255 bytes) a short one made from its hash, so that every
 * name a job may make can be delivered.
 */
export function partName(name: string): string {
  const plain = `.${name}.q-part`;
  return Buffer.byteLength(plain) <= 255 ? plain : `.q-part-${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

interface OpenFile {
  dir: PinnedDir;
  name: string;
  fd: number;
  /** The part file's name in `dir`, for a replacement. */
  part: string | null;
}

export class ChunkWriter {
  private readonly open = new Map<string, OpenFile>();

  /**
   * Writes one chunk of `root/rel`, making its directories; throws with the reason when it
   * cannot. The last chunk returns the file as it was left under its name (fstat).
   */
  write(root: string, rel: string, c: Chunk): BigIntStats | null {
    const key = `${root}\0${rel}`;
    let f = this.open.get(key);
    if (!f || (!c.append && c.offset === 0)) {
      if (f) this.close(key);
      if (!c.append && c.offset !== 0) throw new Error(`${rel}: a chunk at ${c.offset} without its start`);
      const { dir: relDir, name } = splitLast(rel);
      if (this.open.size >= MAX_OPEN) this.drop(this.open.keys().next().value!);
      const dir = openDirBeneath(root, relDir, { create: true });
      const part = c.append ? null : partName(name);
      // Never blocking (a job may have put a pipe at either name: an open for writing would
      // wait for a reader forever) and only a regular file; a part file is always new.
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | (part ? constants.O_EXCL : 0);
      let fd: number;
      try {
        if (part) rmSync(dir.child(part), { force: true });
        fd = openSync(dir.child(part ?? name), flags, 0o644);
        if (!fstatSync(fd).isFile()) {
          closeSync(fd);
          throw new Error(`${rel} is not a regular file`);
        }
      } catch (e) {
        dir.close();
        throw e;
      }
      f = { dir, name, fd, part };
      this.open.set(key, f);
    }
    let done = 0;
    while (done < c.data.length) done += writeSync(f.fd, c.data, done, c.data.length - done, c.offset + done);
    if (!c.eof) return null;
    try {
      fchmodSync(f.fd, c.mode & 0o777);
      futimesSync(f.fd, c.mtimeMs / 1000, c.mtimeMs / 1000);
      if (f.part) renameSync(f.dir.child(f.part), f.dir.child(f.name));
      return fstatSync(f.fd, { bigint: true });
    } finally {
      this.close(key);
    }
  }

  private close(key: string): void {
    const f = this.open.get(key);
    if (!f) return;
    this.open.delete(key);
    try {
      closeSync(f.fd);
    } catch {
      // closed already
    }
    f.dir.close();
  }

  /** Gives up a file half written: a replacement's part file goes, an append stays as far as it got. */
  private drop(key: string): void {
    const f = this.open.get(key);
    if (f?.part) rmSync(f.dir.child(f.part), { force: true });
    this.close(key);
  }

  /** Gives up `root/rel` if it is being written (its part file goes). */
  abandon(root: string, rel: string): void {
    this.drop(`${root}\0${rel}`);
  }

  /** Drops every file still open (its sender went away). */
  closeAll(): void {
    for (const k of [...this.open.keys()]) this.drop(k);
  }
}
