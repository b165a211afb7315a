// Pushes work: whenever a job may have become runnable (added, rerun, a slot freed, a worker
// arrived) `kick` schedules one pass on the next turn of the event loop, so a burst of events
// costs one pass. A pass fills every free slot with the best fitting job (store.claim). A
// heartbeat `offer`s only its own worker: with 1,000 workers, their heartbeats cost 1,000
// one-worker fills, not 1,000 full passes. Nothing here polls.
import { systemClock, type Clock } from '../common/clock.js';
import { lowOnDisk } from '../protocol/resources.js';
import type { JobStore } from '../store/jobs.js';
import type { WorkerFit } from '../store/readyClasses.js';
import type { WorkerRegistry, WorkerSession } from './registry.js';
import { silentLog, type Log } from '../common/verbosity.js';

type Budgets = Pick<WorkerFit, 'memBudget' | 'cpuBudget' | 'gpuBudget'>;

/** Memory, CPUs and GPUs the jobs a worker holds have reserved there. */
export function reserved(w: WorkerSession): { mem: number; cpus: number; gpus: number } {
  const held = { mem: 0, cpus: 0, gpus: 0 };
  for (const j of w.jobs.values()) {
    held.mem += j.mem;
    held.cpus += j.cpus;
    held.gpus += j.gpus;
  }
  return held;
}

/** What a pick tests a worker by, with the memory, CPUs and GPUs it may promise. */
export function workerFit(w: WorkerSession, budgets: Budgets): WorkerFit {
  const r = w.resources;
  return {
    worker: w.handle,
    ...budgets,
    maxTime: w.maxTime,
    // Older workers do not report these: no engine, and they take every process job.
    docker: (r.docker ?? null) !== null,
    bare: r.bare ?? true,
    queues: r.queues ?? [],
    policy: r.policy,
  };
}

export class Scheduler {
  private pending = false;
  /** Workers that may take more since the last pass (a heartbeat), when no full pass is due. */
  private readonly offers = new Set<WorkerSession>();
  /** A full pass is due (anything may have become runnable), not only the offers. */
  private full = false;
  private rotate = 0;

  constructor(
    private readonly jobs: JobStore,
    private readonly workers: WorkerRegistry,
    private readonly log: Log = silentLog,
    private readonly clock: Clock = systemClock,
  ) {}

  kick(): void {
    this.schedule();
  }

  /**
   * One worker may take more than before (its heartbeat said it has more free memory): a
   * pass for it alone, so that 1,000 heartbeating workers do not cost 1,000 full passes.
   */
  offer(w: WorkerSession): void {
    this.offers.add(w);
    this.schedule(true);
  }

  private schedule(onlyOffers = false): void {
    if (!onlyOffers) this.full = true;
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      const full = this.full;
      this.full = false;
      const offered = [...this.offers];
      this.offers.clear();
      try {
        if (full) this.pass();
        else this.fill(offered.filter((w) => this.workers.isConnected(w)));
      } catch (e) {
        // The database is locked or the disk is full: the jobs wait, the master goes on, and
        // the pass is tried again shortly.
        this.log.warn(`Scheduling paused: ${(e as Error).message}`);
        setTimeout(() => this.kick(), 1000).unref();
      }
    });
  }

  /**
   * What a worker can still promise: the memory it reports free, its CPUs and GPUs, each less
   * what its jobs reserved.
   */
  private budgets(w: WorkerSession): Budgets {
    const held = reserved(w);
    const r = w.resources;
    return { memBudget: r.freeMem - held.mem, cpuBudget: r.cpus - held.cpus, gpuBudget: (r.gpus ?? 0) - held.gpus };
  }

  pass(): void {
    const workers = this.workers.connected();
    if (workers.length === 0) return;
    // Start each pass at a different worker so that one does not take every job of a burst.
    this.rotate = (this.rotate + 1) % workers.length;
    this.fill([...workers.slice(this.rotate), ...workers.slice(0, this.rotate)]);
  }

  private fill(order: readonly WorkerSession[]): void {
    let progress = true;
    // Round-robin one job per worker per round, until no worker takes one.
    while (progress) {
      progress = false;
      for (const w of order) {
        // Low on disk, what it ran would lose its output.
        if (w.jobs.size >= w.slots || lowOnDisk(w.resources)) continue;
        const claimed = this.jobs.claim({ ...workerFit(w, this.budgets(w)), host: w.resources.hostname });
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
