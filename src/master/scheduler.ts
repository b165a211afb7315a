// Pushes work: whenever a job may have become runnable (added, rerun, a slot freed, a worker
// arrived) `kick` schedules one pass on the next turn of the event loop, so a burst of events
// costs one pass. A pass fills every free slot with the best fitting job (store.claim).
// Nothing here polls.
import { systemClock, type Clock } from '../common/clock.js';
import { lowOnDisk } from '../protocol/resources.js';
import type { JobStore } from '../store/jobs.js';
import type { WorkerRegistry, WorkerSession } from './registry.js';

export class Scheduler {
  private pending = false;
  private rotate = 0;

  constructor(
    private readonly jobs: JobStore,
    private readonly workers: WorkerRegistry,
    private readonly log: (line: string) => void = () => {},
    private readonly clock: Clock = systemClock,
  ) {}

  kick(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      try {
        this.pass();
      } catch (e) {
        // The database is locked or the disk is full: the jobs wait, the master goes on, and
        // the pass is tried again shortly.
        this.log(`Scheduling paused: ${(e as Error).message}`);
        setTimeout(() => this.kick(), 1000).unref();
      }
    });
  }

  /**
   * What a worker can still promise: the memory it reports free, its CPUs and GPUs, each less
   * what its jobs reserved.
   */
  private budgets(w: WorkerSession): { memBudget: number; cpuBudget: number; gpuBudget: number } {
    let mem = 0;
    let cpus = 0;
    let gpus = 0;
    for (const j of w.jobs.values()) {
      mem += j.mem;
      cpus += j.cpus;
      gpus += j.gpus;
    }
    const r = w.resources;
    return { memBudget: r.freeMem - mem, cpuBudget: r.cpus - cpus, gpuBudget: (r.gpus ?? 0) - gpus };
  }

  pass(): void {
    const workers = this.workers.connected();
    if (workers.length === 0) return;
    // Start each pass at a different worker so that one does not take every job of a burst.
    this.rotate = (this.rotate + 1) % workers.length;
    const order = [...workers.slice(this.rotate), ...workers.slice(0, this.rotate)];
    let progress = true;
    // Round-robin one job per worker per round, until no worker takes one.
    while (progress) {
      progress = false;
      for (const w of order) {
        // Low on disk, what it ran would lose its output.
        if (w.jobs.size >= w.slots || lowOnDisk(w.resources)) continue;
        const claimed = this.jobs.claim({
          worker: w.handle,
          host: w.resources.hostname,
          ...this.budgets(w),
          maxTime: w.maxTime,
          // Older workers do not report these: no engine, and they take every process job.
          docker: (w.resources.docker ?? null) !== null,
          bare: w.resources.bare ?? true,
          queues: w.resources.queues ?? [],
        });
        if (!claimed) continue;
        const { mem, cpus, gpus } = claimed.spec;
        const sent = this.workers.send(w, {
          type: 'assign',
          job: { ...claimed.spec, handle: claimed.handle, lease: claimed.lease, attempt: claimed.attempt },
        });
        if (!sent) {
          // Its socket closed during this pass: the job never left, so it costs no attempt.
          this.jobs.requeue(claimed.handle, claimed.lease, this.clock.now(), null, true);
          continue;
        }
        w.jobs.set(claimed.handle, { lease: claimed.lease, mem, cpus: cpus ?? 0, gpus });
        progress = true;
      }
    }
  }
}
