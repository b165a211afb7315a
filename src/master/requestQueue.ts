// Client requests that read much (listings, logs) wait their turn, one per turn of the event
// loop; everything else is answered as it arrives. So 200 listings at once cannot keep an
// add, a kill or a worker's heartbeat waiting until all of them are done: between two
// listings the loop reads its sockets again.
import type { ClientRequest } from '../protocol/clientMessages.js';

/** What may take long enough to be worth queueing. */
export function isHeavy(req: ClientRequest): boolean {
  return req.type === 'list' || req.type === 'log';
}

export class RequestQueue {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  /** Runs `fn` now if the request is light, else after the heavy ones before it, one a turn. */
  submit(req: ClientRequest, fn: () => void): void {
    if (!isHeavy(req)) return fn();
    this.waiting.push(fn);
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
