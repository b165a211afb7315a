// Runs one job in a Docker container and reports what happened, like JobRun does for a
// process: same limits, same exit codes, same result.
//
// A container run's life: files prepared → image made present (pulled if missing) → container
// created → started → measured from the engine's stats stream → exited → result. The
// container stays (stopped) until the master has the result, so a worker that dies before
// delivering it finds the result again on restart; `dispose` then removes it.
//
// A kill is TERM to the job's processes (docker-init passes it to the whole group), then KILL
// after the grace period. A kill that comes before the container started stops the run at the
// next step; one whose grace ran out while the container was starting KILLs it once started.
// Exit codes: the command's; 128 + the signal; 125 when the engine could not create or start
// it (docker run's code); 126/127 when its shell cannot be run.
//
// An engine that does not answer at all is not the job's fault: before the container runs,
// the run ends with `engineLost` set and the worker gives the job back; while it runs, the
// run keeps waiting for the engine (bounded) rather than failing the job.
//
// An engine that stops (restarted, upgraded) first stops every container, and answers the
// wait with the exit code a TERM gives, before it goes away. So a container that dies of a
// signal q did not send is looked into: if the engine had stopped answering meanwhile, or
// its event log shows it was asked to kill the container and it goes away within
// ENGINE_SHUTDOWN_S, the engine is to blame (`engineLost`, counted like a lost worker); if
// it stays, someone ran `docker stop` or `docker kill`, and the reason says so. A signal from
// inside the container leaves no event: that exit code is the job's own, reported at once.
import { realpathSync } from 'node:fs';
import { isInside } from '../../files/paths.js';
import { dirname, join } from 'node:path';
import type Dockerode from 'dockerode';
import type { Clock } from '../../common/clock.js';
import { formatSize } from '../../common/units.js';
import type { Assignment, Result, Stats } from '../../protocol/jobState.js';
import type { Execution } from '../execution.js';
import { readRunRecord, writeRunRecord, type RunRecord } from '../runRecord.js';
import { expandMirror, jobFilesDir, jobRel, jobRoot, makeJobDirs, OutputFile, outDir, prepareJobFiles, runRoot, workDir, type JobFiles } from '../jobFiles.js';
import { KillSequence } from '../killSequence.js';
import { RunLimits } from '../limits.js';
import { boundPaths, containerSpec, LABELS, memoryLimitBytes, type ContainerPlace } from './containerSpec.js';
import { PinnedMounts } from './pinnedMounts.js';
import { openDirBeneath } from '../../files/beneath.js';
import { engineMessage, isNotFound, isUnreachable, type DockerEngine } from './engine.js';
import { FrameSplitter, parseStatsFrame } from './stats.js';
import { ExitCodes, signalName } from '../../common/outcomes.js';

export interface ContainerEnv {
  basePath: string;
  killGraceMs: number;
  clock: Clock;
  engine: DockerEngine;
  workerHandle: string;
  /** `uid:gid` the container runs as. */
  user: string;
  /** Set when that user is not this process's: the job's files and directories are given to it. */
  owner: [number, number] | null;
  /** Bind mount sources are pinned through private binds (this worker may mount: pinnedMounts.ts). */
  pinMounts: boolean;
}

const KILL_CODE = ExitCodes.KILLED;
/** A run killed before its container ran reports what a TERM would have. */
const KILLED_BEFORE_START = ExitCodes.TERMINATED;
/** docker run's own code when the engine could not create or start the container. */
const ENGINE_ERROR_CODE = ExitCodes.NOT_PROVIDED;
/** Seconds a running container's run waits for an engine that stopped answering (it may be restarting). */
const ENGINE_PATIENCE_S = 600;
/**
 * Seconds an engine asked to kill a container may take to go away for it to count as the
 * engine shutting down: dockerd gives each container 10 s to stop (--shutdown-timeout 15).
 */
const ENGINE_SHUTDOWN_S = 15;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Killed extends Error {}

/** A stopped container that never ran reports a start time of year 1. */
function startTime(state: { StartedAt?: string }): number | null {
  const t = Date.parse(state.StartedAt ?? '');
  return Number.isFinite(t) && t > 0 ? t : null;
}

interface Adopted {
  id: string;
  startedAt: number;
  running: boolean;
  killReason: string | null;
  /** Where its paths were resolved when it started. */
  root: string;
}

export class ContainerRun implements Execution {
  readonly result: Promise<Result>;
  readonly root: string;
  readonly shell = null;
  readonly processes: readonly number[] = [];
  readonly stdout: OutputFile;
  readonly stderr: OutputFile;
  /**
   * The engine stopped answering before the container ran, or stopped under it: the job is
   * not at fault. `ran` when it had started (the retry is counted).
   */
  engineLost: { why: string; ran: boolean } | null = null;
  /** A call was retried because the engine did not answer. */
  private engineWasAway = false;
  private startedAt: number;
  private container: Dockerode.Container | null = null;
  private running = false;
  private ended = false;
  /** Why it ended, when that is not a kill q began (OOM, a signal from outside). */
  private exitReason: string | null = null;
  private readonly kills: KillSequence;
  private readonly limits: RunLimits;
  private onKill: (() => void) | null = null;
  private readonly killed: Promise<never>;
  private stream: { destroy(): void } | null = null;
  private mem = -1;
  private maxMem = -1;
  private userTime = 0;
  private readonly files: JobFiles;
  /** Seconds the container ran, from the engine's own start and finish times. */
  private ranFor: number | null = null;

  private constructor(
    readonly job: Assignment,
    private readonly image: string,
    private readonly env: ContainerEnv,
    adopt: Adopted | null,
  ) {
    this.files = prepareJobFiles(env.basePath, job.handle, { fresh: adopt === null, create: true, owner: env.owner });
    // Sent from the start; the master's welcome then says how much of each it already has.
    this.stdout = new OutputFile(this.files.stdout, 0, undefined, job.logLimit);
    this.stderr = new OutputFile(this.files.stderr, 0, undefined, job.logLimit);
    this.kills = new KillSequence(env.killGraceMs, env.clock, {
      term: () => {
        if (this.running) this.signal('SIGTERM');
      },
      kill: () => {
        if (!this.running) return false; // KILLed once it runs
        this.signal('SIGKILL');
        return true;
      },
      began: (reason, at) => {
        try {
          writeRunRecord(this.files.dir, { ...this.record(), kill: { reason, at } });
        } catch {
          // without the record, a restarted worker reports the exit code alone
        }
        this.onKill?.();
      },
    });
    this.root = adopt?.root ?? jobRoot(job, env.basePath);
    this.limits = new RunLimits(job, this.root, () => this.elapsed(), (reason) => this.kill(reason));
    this.startedAt = adopt?.startedAt ?? env.clock.now();
    this.killed = new Promise<never>((_, reject) => {
      this.onKill = () => reject(new Killed());
    });
    this.killed.catch(() => {});
    // Until its container runs, the limit also bounds the pull; it restarts when the
    // container does. A container that ended while the worker was away is past any limit.
    if (!adopt || adopt.running) this.armTimeLimit();
    let life: Promise<Result>;
    if (adopt) {
      life = this.resume(env.engine.api.getContainer(adopt.id), adopt);
    } else {
      life = this.launch();
    }
    this.result = life.catch((e: unknown) => {
      if (e instanceof Killed) return this.finish(KILLED_BEFORE_START, null);
      if (isUnreachable(e) && !this.running) return this.lost(e);
      return this.finish(ENGINE_ERROR_CODE, `Docker: ${engineMessage(e)}`);
    });
  }

  /** Starts a job in a new container of `image`. */
  static start(job: Assignment, image: string, env: ContainerEnv): ContainerRun {
    return new ContainerRun(job, image, env, null);
  }

  /**
   * Takes back a container this worker started before it restarted. Null when the container
   * cannot be matched to the job it ran, or never started (the worker died starting it): the
   * caller removes it, and the master, not hearing of the job, queues it again.
   */
  static async adopt(info: Dockerode.ContainerInfo, env: ContainerEnv): Promise<ContainerRun | null> {
    const handle = info.Labels[LABELS.job] ?? '';
    const lease = info.Labels[LABELS.lease] ?? '';
    const rec = readRunRecord(jobFilesDir(env.basePath, handle));
    if (rec?.kind !== 'container' || rec.job.lease !== lease) return null;
    const job = rec.job;
    const state = (await env.engine.api.getContainer(info.Id).inspect()).State;
    const startedAt = startTime(state);
    if (state.Status === 'created' || startedAt === null) return null;
    return new ContainerRun(job, info.Image, env, { id: info.Id, startedAt, running: state.Running, killReason: rec.kill?.reason ?? null, root: runRoot(rec, env.basePath) });
  }

  /** What a restarted worker needs to take it back (the container itself is found by its labels). */
  private record(): RunRecord {
    return { kind: 'container', job: this.job, startedAt: this.startedAt, root: this.root };
  }

  private armTimeLimit(): void {
    this.limits.armTime(this.env.clock.now() - this.startedAt);
  }

  /** What the result will say, as things stand: a kill's reason first. */
  private why(): string | null {
    return this.kills.reason ?? this.exitReason;
  }

  private elapsed(): number {
    return this.ranFor ?? (this.env.clock.now() - this.startedAt) / 1000;
  }

  /** Resolves with the step's value, or rejects with Killed as soon as a kill comes. */
  private step<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.killed]);
  }

  /** Calls the engine again while it does not answer (it may be restarting), for a while. */
  private async patiently<T>(call: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      try {
        return await call();
      } catch (e) {
        if (!isUnreachable(e) || tries >= ENGINE_PATIENCE_S) throw e;
        this.engineWasAway = true;
        await sleep(1000);
      }
    }
  }

  private async launch(): Promise<Result> {
    const { job, env } = this;
    const cwd = workDir(job, env.basePath);
    const out = outDir(job, env.basePath);
    makeJobDirs(job, env.basePath, env.owner);
    // The directories realtime inputs will appear in: mounted now, so they must exist now.
    if (!job.shareWorkingPath) {
      for (const p of job.realtimeInPaths) openDirBeneath(this.root, jobRel(dirname(p)), { create: true }).close();
    }
    writeRunRecord(this.files.dir, this.record());
    let volumes: string[];
    try {
      volumes = await this.step(env.engine.ensureImage(this.image));
    } catch (e) {
      if (e instanceof Killed || isUnreachable(e)) throw e;
      return this.finish(ENGINE_ERROR_CODE, (e as Error).message);
    }
    const place = {
      image: this.image,
      workerHandle: env.workerHandle,
      basePath: env.basePath,
      user: env.user,
      workDir: cwd,
      stdout: this.files.stdout,
      stderr: this.files.stderr,
      outDir: out,
      inputs: job.shareWorkingPath ? [] : job.realtimeInPaths.map((p) => dirname(join(this.root, p))),
      readOnly: [] as string[],
      volumes,
      command: expandMirror(job.command, env.basePath),
    };
    // Checked (and, as root, pinned) only now, just before the engine mounts them.
    const root = this.root;
    const writable = boundPaths(place);
    // Staged inputs read-only, but for one that is a writable directory itself or inside the
    // outPath (an output too).
    if (!job.shareWorkingPath) {
      place.readOnly = job.inPaths.map((p) => join(root, p)).filter((p) => !writable.includes(p) && !(out && isInside(p, out)));
    }
    const bound = [...writable, ...place.readOnly];
    // A volume at or inside the job's own directories would hide them: they stay what they are.
    place.volumes = place.volumes.filter((v) => !bound.some((b) => isInside(v, b)));
    const records = join(env.basePath, '.q');
    const over = bound.find((p) => isInside(records, p) || isInside(realpathSync(records), p));
    if (over) return this.finish(ENGINE_ERROR_CODE, `Could not mount its directories: ${over} holds this worker's own records`);
    let pins: PinnedMounts;
    try {
      pins = await PinnedMounts.make(
        // The working directory and outPath must be real directories; an input is left out
        // when it is a link (what it points at inside the job's directories is mounted anyway).
        bound.map((p) => ({ root, rel: p.slice(root.length).replace(/^\/+/, ''), optional: p !== cwd && p !== out })),
        env.pinMounts ? join(env.basePath, '.q', 'mounts', `${job.handle}-${job.lease}`) : null,
      );
    } catch (e) {
      return this.finish(ENGINE_ERROR_CODE, `Could not mount its directories: ${(e as Error).message}`);
    }
    try {
      return await this.createAndStart({ ...place, sources: new Map(bound.map((p, i) => [p, pins.paths[i] ?? null])) }, pins);
    } finally {
      await pins.release();
    }
  }

  /** Creates and starts the container; its mounts are its own once it has started. */
  private async createAndStart(place: ContainerPlace, pins: PinnedMounts): Promise<Result> {
    const { job, env } = this;
    const spec = containerSpec(job, place);
    let container: Dockerode.Container;
    try {
      container = await env.engine.api.createContainer(spec);
    } catch (e) {
      if (isUnreachable(e)) throw e;
      return this.finish(ENGINE_ERROR_CODE, `Could not create its container: ${engineMessage(e)}`);
    }
    this.container = container;
    if (this.kills.reason !== null) return this.finish(KILLED_BEFORE_START, null);
    try {
      await container.start();
    } catch (e) {
      if (isUnreachable(e)) throw e;
      const msg = engineMessage(e);
      const code = /not found|no such file/i.test(msg) ? ExitCodes.NOT_FOUND : /permission denied/i.test(msg) ? ExitCodes.CANNOT_EXECUTE : ENGINE_ERROR_CODE;
      return this.finish(code, `Could not start its container: ${msg}`);
    }
    this.running = true;
    await pins.release();
    this.startedAt = env.clock.now();
    this.armTimeLimit();
    this.kills.reachable(); // a kill that came while it started goes out now
    return this.watch(container);
  }

  private async resume(container: Dockerode.Container, adopted: Adopted): Promise<Result> {
    this.container = container;
    this.running = adopted.running;
    // The worker died during a kill's grace period: the kill goes on (or, if it has ended,
    // its reason stays the one reported).
    if (adopted.running && adopted.killReason !== null) this.kill(adopted.killReason);
    else this.kills.keep(adopted.killReason);
    return this.watch(container);
  }

  /** Follows a started container to its end. */
  private async watch(container: Dockerode.Container): Promise<Result> {
    void this.followStats(container);
    try {
      await this.patiently(() => container.wait());
    } catch (e) {
      if (isNotFound(e)) return this.finish(ENGINE_ERROR_CODE, 'Docker: its container was removed while it ran');
      throw e;
    }
    const state = (await this.patiently(() => container.inspect())).State;
    this.running = false;
    const started = startTime(state);
    if (started === null) return this.finish(ENGINE_ERROR_CODE, 'Docker: its container never started');
    const ran = (Date.parse(state.FinishedAt) - started) / 1000;
    if (Number.isFinite(ran) && ran >= 0) this.ranFor = ran;
    const code = state.ExitCode;
    if (state.OOMKilled && code !== 0 && this.why() === null) {
      // The last stats frame may predate the spike, so what it used is the limit it hit.
      this.exitReason =
        `Memory limit exceeded: reached the container's ${formatSize(memoryLimitBytes(this.job) / 1048576)}, ` +
        `limit ${formatSize(this.job.mem)} * ${this.job.memGrace}`;
    }
    if (code > 128 && this.why() === null) {
      const by = await this.signalledBy(container.id, started);
      if (by !== null && typeof by === 'object') {
        this.engineLost = { why: 'the Docker engine stopped while its container ran', ran: true };
        return this.finish(code, this.engineLost.why);
      }
      if (typeof by === 'string' && this.why() === null) this.exitReason = by;
    }
    return this.finish(code, null);
  }

  /**
   * Who sent the signal a container died of, when q did not: `{ engine }` when the engine went
   * away with it, a reason naming the signal when someone asked the engine for it, null when
   * it came from inside (the job's own exit code).
   */
  private async signalledBy(id: string, since: number): Promise<{ engine: true } | string | null> {
    if (this.engineWasAway) return { engine: true };
    const engine = this.env.engine;
    let signals: string[];
    try {
      signals = await engine.killSignals(id, since);
    } catch (e) {
      return isUnreachable(e) ? { engine: true } : null;
    }
    if (signals.length === 0) return null;
    for (let i = 0; i < ENGINE_SHUTDOWN_S * 2; i++) {
      if (!(await engine.answers())) return { engine: true };
      await sleep(500);
    }
    return `Stopped outside q: the Docker engine was asked to send it ${signalName(signals[0]!)} (docker stop or docker kill)`;
  }

  private async followStats(container: Dockerode.Container): Promise<void> {
    let stream: NodeJS.ReadableStream & { destroy(): void };
    try {
      stream = (await container.stats({ stream: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
    } catch {
      return; // no accounting is better than no job
    }
    if (this.ended) {
      stream.destroy();
      return;
    }
    this.stream = stream;
    const split = new FrameSplitter();
    stream.on('data', (chunk: Buffer | string) => {
      for (const frame of split.push(chunk.toString())) {
        const s = parseStatsFrame(frame);
        if (s.mem >= 0) this.mem = s.mem;
        this.maxMem = Math.max(this.maxMem, s.peak, s.mem);
        this.userTime = Math.max(this.userTime, s.userTime);
      }
    });
    stream.on('error', () => {});
  }

  /** The engine's stats stream measures it. */
  sample(): void {}

  stats(): Stats {
    return { realTime: this.elapsed(), userTime: this.userTime, maxMem: this.maxMem, maxDisk: this.limits.maxDisk, mem: this.mem };
  }

  sampleDisk(): Promise<void> {
    return this.limits.sampleDisk();
  }

  kill(reason: string): void {
    this.kills.kill(reason);
  }

  private signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    // A container that has already stopped answers 409: nothing to do.
    this.container?.kill({ signal }).catch(() => {});
  }

  /** The engine did not answer before the container ran. */
  private lost(e: unknown): Result {
    this.engineLost = { why: `Docker engine not reachable: ${engineMessage(e)}`, ran: false };
    return this.finish(ENGINE_ERROR_CODE, this.engineLost.why);
  }

  private finish(code: number, reason: string | null): Result {
    this.ended = true;
    this.running = false;
    this.kills.end();
    this.limits.end();
    this.stream?.destroy();
    return {
      exitCode: this.kills.escalated ? KILL_CODE : code,
      exitReason: this.why() ?? reason,
      realTime: this.elapsed(),
      userTime: this.userTime,
      maxMem: this.maxMem,
      maxDisk: this.limits.maxDisk,
    };
  }

  /** Removes the container: the master has the result, or took the job away. */
  async dispose(): Promise<void> {
    this.stdout.close();
    this.stderr.close();
    try {
      await this.container?.remove({ force: true, v: true });
    } catch (e) {
      // Gone already is fine; otherwise the next start's scan removes it.
      if (!isNotFound(e)) throw e;
    }
  }
}
