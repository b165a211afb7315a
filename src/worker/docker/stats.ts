// Reads the Engine API's stats frames (one JSON object a second while a container runs) into
// the numbers q reports: memory now and at peak, and CPU time in user mode.
//
// Memory now is usage less inactive file cache, as `docker stats` shows it. The peak is the
// cgroup's own high-water mark where the engine reports one (cgroup v1), else the highest
// sample seen.

interface Frame {
  memory_stats?: {
    usage?: number;
    max_usage?: number;
    stats?: Record<string, number>;
  };
  cpu_stats?: { cpu_usage?: { usage_in_usermode?: number } };
}

export interface ContainerSample {
  /** MB in use now; -1 when the frame has none (the container has just started or ended). */
  mem: number;
  /** MB at peak, or -1. */
  peak: number;
  /** Seconds of CPU in user mode, or -1. */
  userTime: number;
}

const MB = 1024 * 1024;

export function parseStatsFrame(frame: Frame): ContainerSample {
  const m = frame.memory_stats;
  let mem = -1;
  if (m?.usage !== undefined) {
    const cache = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? 0;
    mem = Math.max(0, m.usage - cache) / MB;
  }
  const peak = m?.max_usage !== undefined ? m.max_usage / MB : mem;
  const user = frame.cpu_stats?.cpu_usage?.usage_in_usermode;
  return { mem, peak, userTime: user !== undefined ? user / 1e9 : -1 };
}

/** Splits a stream of newline-separated JSON frames; a partial line waits for the rest. */
export class FrameSplitter {
  private buf = '';

  push(chunk: string): Frame[] {
    this.buf += chunk;
    const frames: Frame[] = [];
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (!line) continue;
      try {
        frames.push(JSON.parse(line) as Frame);
      } catch {
        // a frame the engine garbled: the next one will do
      }
    }
    // A runaway line (no newline ever) must not grow without bound.
    if (this.buf.length > 1024 * 1024) this.buf = '';
    return frames;
  }
}
