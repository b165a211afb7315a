// Writes files that arrive in chunks. A replaced file is written beside its target and
// renamed over it once complete, so a reader never sees half of it and a link at the target
// is replaced, not followed. An appended file gets each chunk at its offset, so a chunk sent
// twice (after a reconnect) writes the same bytes again. Files stay open between chunks, at
// most MAX_OPEN of them: a sender that starts many files and finishes none cannot use up the
// process's descriptors (the oldest is dropped, its part file removed).
import { closeSync, constants, fchmodSync, futimesSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface Chunk {
  append: boolean;
  offset: number;
  eof: boolean;
  mtimeMs: number;
  mode: number;
  data: Buffer;
}

const NOFOLLOW = constants.O_NOFOLLOW;
const MAX_OPEN = 64;

export class ChunkWriter {
  private readonly open = new Map<string, { fd: number; part: string | null }>();

  /** Writes one chunk of `target`; throws with the reason when it cannot. */
  write(target: string, c: Chunk): void {
    let f = this.open.get(target);
    if (!f || (!c.append && c.offset === 0)) {
      if (f) this.close(target);
      const part = c.append ? null : join(dirname(target), `.${basename(target)}.q-part`);
      const flags = constants.O_WRONLY | constants.O_CREAT | NOFOLLOW | (part ? constants.O_TRUNC : 0);
      if (part && c.offset !== 0) throw new Error(`${target}: a chunk at ${c.offset} without its start`);
      if (this.open.size >= MAX_OPEN) this.drop(this.open.keys().next().value!);
      f = { fd: openSync(part ?? target, flags, 0o644), part };
      this.open.set(target, f);
    }
    let done = 0;
    while (done < c.data.length) done += writeSync(f.fd, c.data, done, c.data.length - done, c.offset + done);
    if (!c.eof) return;
    try {
      fchmodSync(f.fd, c.mode & 0o777);
      futimesSync(f.fd, c.mtimeMs / 1000, c.mtimeMs / 1000);
    } finally {
      this.close(target);
    }
    if (f.part) renameSync(f.part, target);
  }

  close(target: string): void {
    const f = this.open.get(target);
    if (!f) return;
    this.open.delete(target);
    try {
      closeSync(f.fd);
    } catch {
      // closed already
    }
  }

  /** Gives up a file half written: a replacement's part file goes, an append stays as far as it got. */
  drop(target: string): void {
    const part = this.open.get(target)?.part;
    this.close(target);
    if (part) rmSync(part, { force: true });
  }

  /** Drops every file still open (its sender went away). */
  closeAll(): void {
    for (const t of [...this.open.keys()]) this.drop(t);
  }
}
