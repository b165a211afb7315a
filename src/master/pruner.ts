// -keepFinished: history kept in bounds on purpose. Finished jobs (done or failed) that ended
// longer ago than the limit go, with their logs, a small batch a turn of the event loop, so
// pruning a year of history never holds up an add or a heartbeat. Runs at start and then once
// a minute; jobs that are ready or active are never touched.
import type { Hub } from './hub.js';
import { DELETED } from './lifecycle.js';

/** Jobs removed per turn: a few milliseconds of deletes. */
export const PRUNE_BATCH = 500;
const PRUNE_EVERY_MS = 60_000;

export class Pruner {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly hub: Hub,
    private readonly keepMs: number,
  ) {}

  start(): void {
    void this.run();
    this.timer = setInterval(() => this.run(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  /** One pruning, in batches; a second call while one runs does nothing. Resolves when it is done. */
  run(): Promise<number> {
    if (this.running) return Promise.resolve(0);
    this.running = true;
    const cutoff = this.hub.clock.now() - this.keepMs;
    let count = 0;
    return new Promise((resolve) => {
      const step = () => {
        let batch: string[];
        try {
          batch = this.hub.jobs.finishedBefore(cutoff, PRUNE_BATCH);
          this.hub.jobs.delete(batch);
          for (const handle of batch) this.hub.logs.discard(handle, DELETED);
        } catch (e) {
          this.hub.log.warn(`Pruning finished jobs paused: ${(e as Error).message}`);
          batch = [];
        }
        count += batch.length;
        // The next batch once this one's logs are gone (removed off the event loop).
        void this.hub.logs.settled().then(() => {
          if (batch.length === PRUNE_BATCH) return void setImmediate(step);
          this.running = false;
          if (count > 0) this.hub.log(`Removed ${count} finished jobs older than -keepFinished, with their logs`);
          resolve(count);
        });
      };
      step();
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
