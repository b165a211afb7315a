// The master's own thread's times, as Linux keeps them (/proc/thread-self/schedstat): how long
// it ran on a CPU, and how long it was ready but waited in a run queue for one. Over a gap of
// the event loop, what is left of the gap beyond both, the thread spent off the CPU: blocked
// in the kernel (a read or write waiting for the disk, a lock) or stopped. That tells a stall
// of the master's own work from a machine short of CPUs and from a disk that stalls.
import { closeSync, openSync, readSync } from 'node:fs';

export interface ThreadTimes {
  /** On a CPU, ms since the thread began. */
  cpuMs: number;
  /** Ready to run, waiting for a CPU, ms since the thread began. */
  queuedMs: number;
}

/** Reads the calling thread's times; open it on the thread it is to watch. */
export class ThreadClock {
  private fd: number | null;
  private readonly buf = Buffer.alloc(128);

  constructor(path = '/proc/thread-self/schedstat') {
    try {
      this.fd = openSync(path, 'r');
    } catch {
      this.fd = null; // not Linux, or /proc not mounted: no breakdown, nothing else changes
    }
  }

  /** The times so far (one read of a file the kernel writes on demand), or null where there are none. */
  read(): ThreadTimes | null {
    if (this.fd === null) return null;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      const [run, wait] = this.buf.toString('latin1', 0, n).split(' ');
      const times = { cpuMs: Number(run) / 1e6, queuedMs: Number(wait) / 1e6 };
      return Number.isFinite(times.cpuMs) && Number.isFinite(times.queuedMs) ? times : null;
    } catch {
      return null;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
