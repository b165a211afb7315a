// Why a ready job is not running, when the reason is that no connected worker could ever take
// it: the pick passes over its class for every worker (a queue nobody serves, an image no
// worker allows, more memory than any has), and without a reason it would only say `ready`.
// Kept per requirement class, not per job (a sweep of 100,000 jobs is one class), in table
// `class_reasons`, which `-list`, `-info` and the dashboard read for ready jobs.
import type { Requirement, WorkerFit } from '../store/readyClasses.js';
import type { JobStore } from '../store/jobs.js';
import type { WorkerSession } from './registry.js';
import { imageAllowed } from '../protocol/containerPolicy.js';
import { formatSize, formatTime } from '../common/units.js';
import { reserved, workerFit } from './scheduler.js';

/**
 * What a connected worker could take at best, whatever it runs now: a pick's view of it with
 * all it has as budgets (the memory it reports free plus what q's jobs there hold).
 */
export function capacityOf(w: WorkerSession): WorkerFit {
  const r = w.resources;
  return workerFit(w, { memBudget: r.freeMem + reserved(w).mem, cpuBudget: r.cpus, gpuBudget: r.gpus ?? 0 });
}

/**
 * Why no worker could take a job of this requirement, or null when one could (the job waits
 * for a free slot, or for its turn). The first need that no worker meets is named; when each
 * is met by some worker but none meets them all, it says so.
 */
export function noWorkerReason(r: Requirement, workers: readonly WorkerFit[]): string | null {
  if (workers.length === 0) return 'no worker connected';
  const needs: [boolean, (w: WorkerFit) => boolean, () => string][] = [
    [r.queue !== null, (w) => w.queues.includes(r.queue!), () => `no worker serves queue ${r.queue}`],
    [r.pin !== null, (w) => w.worker === r.pin, () => `pinned to ${r.pin}, which is not connected`],
    [r.docker, (w) => w.docker, () => 'needs Docker; no connected worker has an engine'],
    [!r.docker, (w) => w.bare, () => 'runs outside a container; every worker is -requireDocker'],
    [r.image !== null, (w) => !w.policy || imageAllowed(w.policy, r.image!), () => `image ${r.image} is not allowed on any worker (-allowImages)`],
    [r.network, (w) => w.policy?.allowNetwork ?? true, () => 'asks for a network; no worker allows one (-allowNetwork)'],
    [true, (w) => w.maxTime === null || r.time <= w.maxTime, () => `needs ${formatTime(r.time)}; the workers accept at most ${formatTime(Math.max(...workers.map((w) => w.maxTime ?? 0)))} (-time)`],
    // (not how much the largest has: that moves with every heartbeat, and the row with it)
    [true, (w) => r.mem <= w.memBudget, () => `needs ${formatSize(r.mem)} of memory; no worker has that much free`],
    [r.cpus !== null, (w) => r.cpus! <= w.cpuBudget, () => `needs ${r.cpus} CPUs; the most any worker has is ${Math.max(...workers.map((w) => w.cpuBudget))}`],
    [r.gpus > 0, (w) => r.gpus <= w.gpuBudget, () => `needs ${r.gpus} GPUs; the most any worker has is ${Math.max(...workers.map((w) => w.gpuBudget))}`],
  ];
  const relevant = needs.filter(([applies]) => applies);
  for (const [, met, why] of relevant) if (!workers.some(met)) return why();
  if (workers.some((w) => relevant.every(([, met]) => met(w)))) return null;
  return 'no one worker has all it needs (queue, image, time, memory, CPUs, GPUs)';
}

/**
 * Brings the reasons up to date with the workers connected now: a cost per class that may
 * have ready jobs times the workers, and a write only for a reason that changed.
 */
export function refreshWaitReasons(jobs: JobStore, workers: readonly WorkerSession[]): number {
  const capacities = workers.map(capacityOf);
  const reasons = new Map<number, string | null>();
  for (const id of jobs.reasons.classes()) reasons.set(id, null); // not in question any more unless below
  // (a probe per class: one found empty is unmarked, so classes of long ago cost nothing)
  for (const { id, req } of jobs.ready.waiting(1)) reasons.set(id, noWorkerReason(req, capacities));
  return jobs.reasons.update(reasons);
}
