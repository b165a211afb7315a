// How the pick finds a worker's next job without looking at jobs it cannot run.
//
// Jobs that need the same of a worker (memory, time limit, pinned worker, Docker or not,
// CPUs, GPUs, queue) share a requirement class (table `classes`, one row per distinct need;
// a sweep of 100,000 jobs is one class). Ready jobs are indexed by (class, priority, seq), so
// the best ready job of a class is one index probe. A pick checks in memory which classes fit
// the worker, probes the head of each that does, and takes the best head (lowest priority
// number, then oldest). Its cost is the number of classes with ready jobs, whatever the number
// of ready jobs: a million jobs for another queue cost it nothing.
//
// The classes that may have ready jobs are kept in memory. A job that becomes ready (added,
// requeued, rerun) marks its class; a probe that finds a class empty unmarks it, so a class
// is probed in vain at most once after its last job left. On open every known class is
// marked; the first passes unmark the empty ones.
import type { Db } from './db.js';
import type { JobSpec } from '../protocol/jobSpec.js';
import { imageAllowed, type ContainerPolicy } from '../protocol/containerPolicy.js';

/** What a class needs of a worker (the columns the pick used to test row by row). */
export interface Requirement {
  mem: number;
  time: number;
  pin: string | null;
  docker: boolean;
  cpus: number | null;
  gpus: number;
  queue: string | null;
  /** Its container asks for a network. */
  network: boolean;
  /** The image it names (null: none). */
  image: string | null;
}

/** What a worker can take now (scheduler.ts builds it from its resources and reservations). */
export interface WorkerFit {
  worker: string;
  memBudget: number;
  /** Longest job (seconds) the worker accepts; null = any. */
  maxTime: number | null;
  /** The worker reaches a Docker engine. */
  docker: boolean;
  /** The worker takes jobs that name no image. */
  bare: boolean;
  /** CPUs and GPUs not yet promised to its jobs. */
  cpuBudget: number;
  gpuBudget: number;
  queues: readonly string[];
  /** What its containers may have (absent: any network, any image). */
  policy?: ContainerPolicy;
}

export function fits(r: Requirement, w: WorkerFit): boolean {
  return (
    (!r.network || (w.policy?.allowNetwork ?? true)) &&
    (r.image === null || !w.policy || imageAllowed(w.policy, r.image)) &&
    r.mem <= w.memBudget &&
    (w.maxTime === null || r.time <= w.maxTime) &&
    (r.pin === null || r.pin === w.worker) &&
    (r.docker ? w.docker : w.bare) &&
    (r.cpus === null || r.cpus <= w.cpuBudget) &&
    r.gpus <= w.gpuBudget &&
    (r.queue === null || w.queues.includes(r.queue))
  );
}

export function requirementOf(spec: JobSpec): Requirement {
  return {
    mem: spec.mem,
    time: spec.time,
    pin: spec.workerHandle,
    docker: spec.dockerImage !== null,
    cpus: spec.cpus,
    gpus: spec.gpus,
    queue: spec.queue,
    network: spec.network,
    image: spec.dockerImage,
  };
}

export interface Head {
  seq: number;
  priority: number;
  handle: string;
  spec: string;
  attempt: number;
}

interface ClassRow {
  id: number;
  mem: number;
  time_limit: number;
  worker_pin: string | null;
  docker: number;
  cpus: number | null;
  gpus: number;
  queue: string | null;
  network: number;
  image: string | null;
}

export class ReadyClasses {
  private readonly known = new Map<number, Requirement>();
  /** Requirement (as JSON) → class id, so that an add costs no lookup for a class seen before. */
  private readonly ids = new Map<string, number>();
  private readonly marked = new Set<number>();
  /** Index probes made by picks: what a pick costs, for tests and the bench. */
  probes = 0;
  private readonly s;

  constructor(db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      // json_array in SQL on both sides: the key is the same text whichever way it was made.
      add: p(`INSERT OR IGNORE INTO classes (key, mem, time_limit, worker_pin, docker, cpus, gpus, queue, network, image)
              VALUES (json_array(@mem, @time, @pin, @docker, @cpus, @gpus, @queue, @network, @image), @mem, @time, @pin, @docker, @cpus, @gpus, @queue, @network, @image)`),
      idOf: p(`SELECT id FROM classes WHERE key = json_array(@mem, @time, @pin, @docker, @cpus, @gpus, @queue, @network, @image)`),
      all: p(`SELECT id, mem, time_limit, worker_pin, docker, cpus, gpus, queue, network, image FROM classes`),
      head: p(`SELECT seq, priority, handle, spec, attempt FROM jobs INDEXED BY jobs_ready
               WHERE class = ? AND status = 'ready' ORDER BY priority, seq LIMIT 1`),
      readyIn: p(`SELECT count(*) AS n FROM (SELECT 1 FROM jobs INDEXED BY jobs_ready WHERE class = ? AND status = 'ready' LIMIT ?)`),
    };
    this.reload();
    for (const id of this.known.keys()) this.marked.add(id);
  }

  /** The class of a job with this requirement (made on first sight). Call inside the add's transaction. */
  classOf(req: Requirement): number {
    const key = JSON.stringify(req);
    const cached = this.ids.get(key);
    if (cached !== undefined) return cached;
    const params = { ...req, docker: req.docker ? 1 : 0, network: req.network ? 1 : 0 };
    this.s.add.run(params);
    const id = (this.s.idOf.get(params) as { id: number }).id;
    this.known.set(id, req);
    this.ids.set(key, id);
    return id;
  }

  /**
   * The classes that have ready jobs, with how many (counted up to `cap` each): what the
   * autoscaler sizes pilots by. Costs a probe per class that may have ready jobs, and at most
   * `cap` index entries each; a class found empty is unmarked, as a pick would.
   */
  waiting(cap: number): { id: number; req: Requirement; ready: number }[] {
    const out: { id: number; req: Requirement; ready: number }[] = [];
    for (const id of this.marked) {
      const req = this.known.get(id);
      const n = req ? (this.s.readyIn.get(id, cap) as { n: number }).n : 0;
      // A class this store no longer knows (a rolled-back add's) is unmarked, as best() does.
      if (!req || n === 0) this.marked.delete(id);
      else out.push({ id, req, ready: n });
    }
    return out;
  }

  /** A job of this class became ready. */
  mark(id: number | null): void {
    if (id !== null) this.marked.add(id);
  }

  /** Reads the classes from the table: on open, and after a transaction that made some rolled back. */
  reload(): void {
    this.ids.clear();
    this.known.clear();
    for (const r of this.s.all.all() as ClassRow[]) {
      const req: Requirement = {
        mem: r.mem,
        time: r.time_limit,
        pin: r.worker_pin,
        docker: r.docker === 1,
        cpus: r.cpus,
        gpus: r.gpus,
        queue: r.queue,
        network: r.network === 1,
        image: r.image,
      };
      this.known.set(r.id, req);
      this.ids.set(JSON.stringify(req), r.id);
    }
  }

  /** The best ready job this worker can take, or undefined; unmarks classes found empty. */
  best(w: WorkerFit): Head | undefined {
    let best: Head | undefined;
    for (const id of this.marked) {
      const req = this.known.get(id);
      if (!req) {
        this.marked.delete(id);
        continue;
      }
      if (!fits(req, w)) continue;
      this.probes++;
      const head = this.s.head.get(id) as Head | undefined;
      if (!head) {
        this.marked.delete(id);
        continue;
      }
      if (!best || head.priority < best.priority || (head.priority === best.priority && head.seq < best.seq)) best = head;
    }
    return best;
  }

  /** Classes that may have ready jobs (for the bench and tests). */
  get markedCount(): number {
    return this.marked.size;
  }
}
