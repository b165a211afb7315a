// Client requests that read much (listings, logs) wait their turn, one per turn of the event
// loop; everything else is answered as it arrives. So 200 listings at once cannot keep an
// add, a kill or a worker's heartbeat waiting until all of them are done: between two
// listings the loop reads its sockets again.
//
// Adds also wait, in order, while writes are paused: the store is catching up its WAL
// (store/checkpointer.ts), and a bulk add would keep it from finishing.
import type { ClientRequest } from '../protocol/clientMessages.js';
import type { WritePause } from '../store/checkpointer.js';

/** What may take long enough to be worth queueing. */
export function isHeavy(req: ClientRequest): boolean {
  return req.type === 'list' || req.type === 'log';
}

export class RequestQueue implements WritePause {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;
  private paused = false;
  /** Adds that came while writes were paused. */
  private readonly held: (() => void)[] = [];

  /** Runs `fn` now if the request is light, else after the heavy ones before it, one a turn. */
  submit(req: ClientRequest, fn: () => void): void {
    if (req.type === 'add' && this.paused) return void this.held.push(fn);
    if (!isHeavy(req)) return fn();
    this.waiting.push(fn);
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  /** The adds held meanwhile run in the order they came, one a turn. */
  resume(): void {
    this.paused = false;
    this.waiting.push(...this.held.splice(0));
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const next = this.waiting.shift();
      try {
        next?.();
      } finally {
        this.schedule();
      }
    });
  }
}
