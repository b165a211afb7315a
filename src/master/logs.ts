// The master's copy of each job's output: one file per job under STATE/logs, appended as the
// worker streams it, and fanned out to clients that follow it (`q -log -follow`).
//
// Each chunk names where it starts in its stream (stdout or stderr), and HANDLE.pos records
// how far each stream has come. After a reconnect, even one to a master restarted by kill -9,
// the worker goes on from there: nothing is lost that reached this file, and nothing repeated.
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type LogListener = { data(chunk: Buffer): void; end(status: string): void };

export interface StreamPositions {
  stdout: number;
  stderr: number;
}

export class LogSpool {
  private readonly listeners = new Map<string, Set<LogListener>>();
  private readonly positions = new Map<string, StreamPositions>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  path(handle: string): string {
    return join(this.dir, `${handle}.log`);
  }

  /** How much of each of the job's streams is here. */
  positionsOf(handle: string): StreamPositions {
    let pos = this.positions.get(handle);
    if (!pos) {
      pos = { stdout: 0, stderr: 0 };
      try {
        const saved = JSON.parse(readFileSync(join(this.dir, `${handle}.pos`), 'utf8')) as Partial<StreamPositions>;
        pos = { stdout: Number(saved.stdout) || 0, stderr: Number(saved.stderr) || 0 };
      } catch {
        // no output yet
      }
      // A master killed between appending and recording: the log holds bytes the positions
      // do not count. They go, and come again from the worker.
      try {
        if (statSync(this.path(handle)).size > pos.stdout + pos.stderr) truncateSync(this.path(handle), pos.stdout + pos.stderr);
      } catch {
        // no log yet
      }
      this.positions.set(handle, pos);
    }
    return pos;
  }

  /** Appends what of `chunk` (at `offset` of its stream) is not here yet. */
  append(handle: string, stream: keyof StreamPositions, offset: number, chunk: Buffer): void {
    const pos = this.positionsOf(handle);
    const have = pos[stream];
    if (offset + chunk.length <= have) return; // sent again after a reconnect: here already
    const fresh = offset < have ? chunk.subarray(have - offset) : chunk;
    appendFileSync(this.path(handle), fresh);
    pos[stream] = offset + chunk.length;
    // Replaced whole (rename), never left half written.
    const tmp = join(this.dir, `.${handle}.pos`);
    writeFileSync(tmp, JSON.stringify(pos));
    renameSync(tmp, join(this.dir, `${handle}.pos`));
    for (const l of this.listeners.get(handle) ?? []) l.data(fresh);
  }

  /** How many bytes of the job's log are here. */
  size(handle: string): number {
    try {
      return statSync(this.path(handle)).size;
    } catch {
      return 0;
    }
  }

  /**
   * Subscribes to what comes, and says how much was there before it: the caller sends that
   * part from the file (logStream.ts). Nothing is lost or repeated in between, since Node
   * runs this synchronously and appends only add past `existing`.
   */
  follow(handle: string, listener: LogListener): { existing: number; stop(): void } {
    const existing = this.size(handle);
    let set = this.listeners.get(handle);
    if (!set) this.listeners.set(handle, (set = new Set()));
    set.add(listener);
    return {
      existing,
      stop: () => {
        set!.delete(listener);
        if (set!.size === 0) this.listeners.delete(handle);
      },
    };
  }

  /** The job ended (or will never produce more here): tell followers and let them go. */
  end(handle: string, status: string): void {
    this.positions.delete(handle);
    rmSync(join(this.dir, `${handle}.pos`), { force: true });
    const set = this.listeners.get(handle);
    if (!set) return;
    this.listeners.delete(handle);
    for (const l of set) l.end(status);
  }

  /** Output of a rerun starts afresh; a deleted job keeps none. */
  remove(handle: string): void {
    rmSync(this.path(handle), { force: true });
    rmSync(join(this.dir, `${handle}.pos`), { force: true });
    this.positions.delete(handle);
  }
}
