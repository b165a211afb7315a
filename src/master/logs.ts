// The master's copy of each job's output: one file per job under STATE/logs, appended as the
// worker streams it, and fanned out to clients that follow it (`q -log -follow`).
import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export type LogListener = { data(chunk: Buffer): void; end(status: string): void };

export class LogSpool {
  private readonly listeners = new Map<string, Set<LogListener>>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private path(handle: string): string {
    return join(this.dir, `${handle}.log`);
  }

  append(handle: string, chunk: Buffer): void {
    appendFileSync(this.path(handle), chunk);
    for (const l of this.listeners.get(handle) ?? []) l.data(chunk);
  }

  read(handle: string): Buffer {
    try {
      return readFileSync(this.path(handle));
    } catch {
      return Buffer.alloc(0);
    }
  }

  /** Reads what is there and subscribes to what comes, with nothing lost in between. */
  follow(handle: string, listener: LogListener): { existing: Buffer; stop(): void } {
    // Node runs this synchronously, so no append can slip between the read and the subscribe.
    const existing = this.read(handle);
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
    const set = this.listeners.get(handle);
    if (!set) return;
    this.listeners.delete(handle);
    for (const l of set) l.end(status);
  }

  /** Output of a rerun starts afresh; a deleted job keeps none. */
  remove(handle: string): void {
    rmSync(this.path(handle), { force: true });
  }
}
