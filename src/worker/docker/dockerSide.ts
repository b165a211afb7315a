// Docker on this worker: the engine (found at start, probed with each heartbeat), which jobs
// run in which image, taking back the containers a previous run of this worker left, removing
// containers whose jobs went elsewhere, and stopping a container a process job started itself.
import type { ContainerPolicy } from '../../protocol/containerPolicy.js';
import { closeSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Clock } from '../../common/clock.js';
import { openRegularBeneath } from '../../files/beneath.js';
import { isInside } from '../../files/paths.js';
import type { Assignment } from '../../protocol/jobState.js';
import { jobRel, jobRoot } from '../jobFiles.js';
import { ContainerRun, type ContainerEnv } from './containerRun.js';
import { LABELS } from './containerSpec.js';
import { DockerEngine } from './engine.js';
import { canPin, clearStages } from './pinnedMounts.js';
import type { Log } from '../../common/verbosity.js';

export interface DockerOptions {
  /** Jobs that name no image run in this one (when the engine answers). */
  image: string | null;
  /** Run nothing outside a container. */
  require: boolean;
  /** `uid:gid` containers run as; null = this process's. */
  user: string | null;
  /** What its containers may have beyond the defaults (-allowNetwork, -allowImages); default: any network, any image. */
  policy?: ContainerPolicy;
}

export interface DockerSideOptions {
  handle: string;
  basePath: string;
  killGraceMs: number;
  clock: Clock;
  docker: DockerOptions;
  log: Log;
}

/** After a run says the engine went away: how long it counts as gone while it still answers (a stopping engine does). */
export const LOST_HOLD_MS = 30_000;
/** How often the engine is asked, after such a loss, until it no longer answers. */
const GONE_POLL_MS = 250;

export class DockerSide {
  private engine: DockerEngine | null = null;
  /** When a run last said the engine went away, until a probe has seen it gone (or LOST_HOLD_MS passed). */
  private lostAt: number | null = null;

  constructor(private readonly opts: DockerSideOptions) {}

  /** The engine's version when it last answered; null while none does. */
  get version(): string | null {
    return this.engine?.version ?? null;
  }

  /** Whether jobs that name no image may run here as processes now. */
  get bare(): boolean {
    const d = this.opts.docker;
    return !d.require || (d.image !== null && this.version !== null);
  }

  /** Loads the client and asks the engine for its version. */
  async open(): Promise<void> {
    try {
      this.engine = await DockerEngine.open();
    } catch (e) {
      this.opts.log.warn(`Docker support could not load (${(e as Error).message}): running process jobs only`);
    }
    await this.engine?.probe();
  }

  /** Clears mount stages a previous run left (or says why mounts are not pinned here). */
  async prepareMounts(): Promise<void> {
    if (!canPin()) this.opts.log.warn('Not root: Docker mounts are checked for links just before create, but not pinned (docs/security.md)');
    else await clearStages(join(this.opts.basePath, '.q', 'mounts'));
  }

  /** Says in the log whether an engine answers (after process jobs were taken back). */
  describe(): void {
    const image = this.opts.docker.image;
    if (this.version) this.opts.log(`Docker engine ${this.version} reachable${image ? `; jobs without an image run in ${image}` : ''}`);
    else if (this.engine) {
      const only = this.opts.docker.require ? 'it takes no jobs until one answers' : 'running process jobs only';
      this.opts.log.warn(`No Docker engine reachable (${this.engine.problem}): ${only}`);
    }
  }

  /** The image a job runs in here; null = as a process; false = this worker cannot run it now. */
  /** What this worker's containers may have. */
  get policy(): ContainerPolicy {
    return this.opts.docker.policy ?? { allowNetwork: true, allowImages: null };
  }

  imageFor(job: Assignment): string | null | false {
    const engineUp = this.version !== null;
    if (job.dockerImage) return engineUp ? job.dockerImage : false;
    if (this.opts.docker.image && engineUp) return this.opts.docker.image;
    return this.opts.docker.require ? false : null;
  }

  start(job: Assignment, image: string): ContainerRun {
    return ContainerRun.start(job, image, this.env());
  }

  private env(): ContainerEnv {
    const own = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
    const user = this.opts.docker.user ?? own;
    const [uid, gid] = user.split(':').map(Number);
    return {
      basePath: this.opts.basePath,
      killGraceMs: this.opts.killGraceMs,
      clock: this.opts.clock,
      engine: this.engine!,
      workerHandle: this.opts.handle,
      user,
      owner: user === own ? null : ([uid!, gid ?? uid!] as [number, number]),
      pinMounts: canPin(),
    };
  }

  /**
   * Containers this worker left behind (it was restarted), running or finished, except those
   * whose lease `held` already has. One that cannot be matched to its job is removed.
   */
  async adopt(held: (lease: string) => boolean): Promise<ContainerRun[]> {
    const engine = this.engine;
    if (!engine || this.version === null) return [];
    let found;
    try {
      found = await engine.containersOf(this.opts.handle, this.opts.basePath);
    } catch (e) {
      this.opts.log.warn(`Could not list this worker's containers: ${(e as Error).message}`);
      return [];
    }
    const runs: ContainerRun[] = [];
    for (const info of found) {
      if (held(info.Labels[LABELS.lease] ?? '')) continue;
      let run: ContainerRun | null = null;
      try {
        run = await ContainerRun.adopt(info, this.env());
      } catch (e) {
        this.opts.log.warn(`Could not take back container ${info.Id.slice(0, 12)}: ${(e as Error).message}`);
      }
      if (!run) {
        this.opts.log(`Removing container ${info.Id.slice(0, 12)} (${info.Labels[LABELS.job] ?? '?'}): no record of its job`);
        await engine.api.getContainer(info.Id).remove({ force: true, v: true }).catch(() => {});
        continue;
      }
      this.opts.log(`Took back ${run.job.handle} in container ${info.Id.slice(0, 12)} (${info.State})`);
      runs.push(run);
    }
    return runs;
  }

  /**
   * Notices an engine that stopped or started answering. One that is back gets its strays
   * removed: while it was away, the master requeued the jobs of any container left.
   */
  async probe(held: (lease: string) => boolean): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    const before = engine.version;
    let now = await engine.probe();
    if (now !== null && this.stillGoing()) now = engine.version = null;
    if (before === now || (before !== null && now !== null)) return;
    if (now === null) this.opts.log.warn(`Docker engine stopped answering (${engine.problem})`);
    else {
      this.opts.log(`Docker engine ${now} reachable again`);
      await this.removeStrays(held);
    }
  }

  /**
   * A run says the engine went away: it counts as gone until a probe has found it not
   * answering and a later one answering (a restart), or for LOST_HOLD_MS. An engine that is
   * stopping still answers for a while (in CI, long enough for the heartbeat's probe to find
   * it "back" and a job given back to come straight back here and fail to get a container).
   * Meanwhile it is asked every GONE_POLL_MS, so that a short time away is seen.
   */
  lost(why: string): void {
    const engine = this.engine;
    if (!engine) return;
    engine.version = null;
    engine.problem = why;
    if (this.lostAt !== null) return; // already watching
    this.lostAt = this.opts.clock.now();
    const watch = async () => {
      while (this.stillGoing()) {
        if ((await engine.probe(1000)) === null) {
          this.lostAt = null; // seen gone: its next answer is an engine that started again
          return;
        }
        engine.version = null;
        await new Promise((r) => setTimeout(r, GONE_POLL_MS).unref());
      }
    };
    void watch();
  }

  /** Whether the engine a run lost may still be stopping (not yet seen gone, within LOST_HOLD_MS). */
  private stillGoing(): boolean {
    if (this.lostAt !== null && this.opts.clock.now() - this.lostAt >= LOST_HOLD_MS) this.lostAt = null;
    return this.lostAt !== null;
  }

  /** Removes containers of this worker whose lease `held` does not have (their jobs went elsewhere). */
  private async removeStrays(held: (lease: string) => boolean): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    for (const info of await engine.containersOf(this.opts.handle, this.opts.basePath).catch(() => [])) {
      // Checked now, not before the list came: a job may have started a container meanwhile.
      if (held(info.Labels[LABELS.lease] ?? '')) continue;
      this.opts.log(`Removing container ${info.Id.slice(0, 12)} (${info.Labels[LABELS.job] ?? '?'}): its job is no longer this worker's`);
      await engine.api.getContainer(info.Id).remove({ force: true, v: true }).catch(() => {});
    }
  }

  /**
   * A process job that started a container of its own (CodaLab's scripts run `docker run
   * --cidfile`) is killed: that container is stopped too, since its PID 1 may ignore TERM and
   * outlive the job. Only a container that mounts something beside the cid file is touched,
   * so a job cannot name another job's container.
   */
  async stopItsContainer(job: Assignment): Promise<void> {
    const engine = this.engine;
    if (!engine || !job.cidFile) return;
    const path = join(jobRoot(job, this.opts.basePath), job.cidFile);
    let id: string;
    try {
      // Read through no link: the job wrote this file, and could have made it one.
      const fd = openRegularBeneath(jobRoot(job, this.opts.basePath), jobRel(job.cidFile));
      if (fd === null) return;
      try {
        id = readFileSync(fd, 'utf8').trim();
      } finally {
        closeSync(fd);
      }
    } catch {
      return; // it had not started one (yet)
    }
    if (!/^[0-9a-f]{12,64}$/.test(id)) return;
    const container = engine.api.getContainer(id);
    try {
      const info = await container.inspect();
      if (!info.Mounts.some((m) => isInside(m.Source, dirname(path)))) {
        this.opts.log.warn(`Not stopping container ${id.slice(0, 12)} named by ${job.handle}: it is not that job's`);
        return;
      }
      this.opts.log(`Stopping container ${id.slice(0, 12)} of ${job.handle}`);
      await container.stop({ t: Math.ceil(this.opts.killGraceMs / 1000) }).catch(() => {});
      await container.remove({ force: true, v: true }).catch(() => {});
    } catch {
      // gone already
    }
  }
}
