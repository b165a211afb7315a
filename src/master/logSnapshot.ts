// A job's log as it stood at one moment, read as one run of bytes: its head, the note of what
// was dropped, and its tail segments. The files are opened when the snapshot is taken, so a
// segment the spool removes meanwhile is still read whole, and appends made later are not
// part of it (followers get those as they come).
import { closeSync, read } from 'node:fs';

export type LogPart = { fd: number; start: number; length: number } | { data: Buffer };

function partLength(p: LogPart): number {
  return 'data' in p ? p.data.length : p.length;
}

function readFd(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, offset, length, position, (e, n) => (e ? reject(e) : resolve(n))));
}

export class LogSnapshot {
  readonly size: number;

  constructor(private readonly parts: LogPart[]) {
    this.size = parts.reduce((n, p) => n + partLength(p), 0);
  }

  /** Fills `buf` from `pos` with up to `length` bytes; fewer only at the end. */
  async read(buf: Buffer, length: number, pos: number): Promise<number> {
    let done = 0;
    let at = 0;
    for (const p of this.parts) {
      const len = partLength(p);
      if (done >= length) break;
      if (pos + done >= at + len) {
        at += len;
        continue;
      }
      const from = pos + done - at;
      const want = Math.min(len - from, length - done);
      if ('data' in p) {
        p.data.copy(buf, done, from, from + want);
        done += want;
      } else {
        let got = 0;
        while (got < want) {
          const n = await readFd(p.fd, buf, done + got, want - got, p.start + from + got);
          if (n <= 0) break; // the file is shorter than it was (cut after a crash)
          got += n;
        }
        done += got;
        if (got < want) break;
      }
      at += len;
    }
    return done;
  }

  close(): void {
    for (const p of this.parts) if ('fd' in p) closeSync(p.fd);
    this.parts.length = 0;
  }
}
