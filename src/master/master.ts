// `q -mode master`: opens the job table, listens, and keeps leases honest: a worker silent
// for longer than the heartbeat timeout loses its jobs back to the queue.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '../common/clock.js';
import { ensureToken, recordMaster } from '../common/config.js';
import { openDb } from '../store/db.js';
import { lockState } from '../store/stateLock.js';
import { Checkpointer } from '../store/checkpointer.js';
import { JobStore } from '../store/jobs.js';
import { WorkerStore } from '../store/workers.js';
import type { Hub } from './hub.js';
import { takeBack } from './lifecycle.js';
import { LogSpool } from './logs.js';
import { WorkerRegistry } from './registry.js';
import { Scheduler } from './scheduler.js';
import { refreshWaitReasons } from './waitReasons.js';
import { StallWatch } from './stallWatch.js';
import { Pruner } from './pruner.js';
import { OutputSink } from './files/outputs.js';
import { DEFAULT_MAX_OUTPUT_MB, DEFAULT_MIN_FREE_DISK_MB } from '../common/limits.js';
import { RealtimeFeed, REALTIME_MS } from './files/realtime.js';
import { listen } from './server.js';
import { RequestQueue } from './requestQueue.js';
import { MasterMetrics } from './http/metrics.js';
import { DashboardAccess } from './http/access.js';
import { QueueHistory } from './queueHistory.js';
import { Autoscaler, type AutoscaleOptions } from './autoscaler.js';
import { DEFAULT_LOG_LIMIT_MB } from '../common/logLimit.js';
import { logByTurn } from '../common/turnLines.js';
import { Verbosity, type Log } from '../common/verbosity.js';

export interface MasterOptions {
  stateDir: string;
  host: string;
  port: number;
  token?: string;
  heartbeatTimeoutMs: number;
  /** Finished jobs older than this (ms) are removed with their logs; null keeps everything. */
  keepFinishedMs?: number | null;
  durable: boolean;
  /** Certificate and key: the master speaks wss:// only. */
  tls?: { cert: Buffer; key: Buffer } | null;
  /** Arguments of a worker to start beside the master (`-localWorker`), or null. */
  localWorkerArgs: string[] | null;
  clock?: Clock;
  /** -autoscale slurm:MAX: pilots on Slurm while jobs wait (autoscaler.ts); null: off. */
  autoscale?: Omit<AutoscaleOptions, 'token' | 'pilot'> & { pilot: Omit<AutoscaleOptions['pilot'], 'masterPort'> };
  /** The dashboard at / (default on; -dashboard false), and -readOnly: it may look, not act. */
  dashboard?: boolean;
  readOnly?: boolean;
  /** MB one job's outputs may take on this machine (-maxOutput, default 10g). */
  maxOutputMb?: number;
  /** MB of free disk below which outputs are refused (-minFreeDisk, default 100m). */
  minFreeDiskMb?: number;
  /** -verbose (default 1); ignored when `log` is given. */
  verbosity?: Verbosity;
  log?: Log;
}

export interface RunningMaster {
  port: number;
  closed: Promise<void>;
  close(): Promise<void>;
}

const RETRY_EVERY_MS = 1000;
/** How often the reasons of jobs no worker could take are brought up to date. */
const WAIT_REASONS_EVERY_MS = 1000;
const RETRIES_PER_TURN = 500;
/** How often -autoscale looks at the queue and at Slurm. */
const AUTOSCALE_EVERY_MS = 3000;
/** How often the dashboard's chart closes a minute that has passed. */
const HISTORY_EVERY_MS = 5000;

const BIN_Q = join(fileURLToPath(import.meta.url), '..', '..', '..', 'bin', 'q');

export async function startMaster(opts: MasterOptions): Promise<RunningMaster> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? logByTurn(opts.verbosity ?? Verbosity.NORMAL);
  const token = ensureToken(opts.token, opts.stateDir);
  const lock = lockState(opts.stateDir);
  const dbPath = join(opts.stateDir, 'q.db');
  const db = openDb(dbPath, { synchronous: opts.durable ? 'FULL' : 'NORMAL' });
  const requests = new RequestQueue();
  const checkpoints = new Checkpointer(db, dbPath, log, requests);
  const jobs = new JobStore(db);
  const recovered = jobs.adds.recover(clock.now());
  if (recovered.dropped) log(`Removed ${recovered.dropped} jobs of adds that had not arrived whole when the master stopped`);
  if (recovered.letGo) log(`Made ready ${recovered.letGo} jobs of adds that had arrived whole when the master stopped`);
  const workers = new WorkerRegistry(new WorkerStore(db), log);
  const scheduler = new Scheduler(jobs, workers, log, clock);

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | null = null;
  let localWorker: ChildProcess | null = null;

  const hub: Hub = {
    jobs,
    workers,
    scheduler,
    logs: new LogSpool(join(opts.stateDir, 'logs'), (handle) => jobs.get(handle)?.logLimit ?? DEFAULT_LOG_LIMIT_MB),
    outputs: new OutputSink(jobs, log, { maxOutputMb: opts.maxOutputMb ?? DEFAULT_MAX_OUTPUT_MB, minFreeDiskMb: opts.minFreeDiskMb ?? DEFAULT_MIN_FREE_DISK_MB }, () => clock.now()),
    clock,
    log,
    metrics: new MasterMetrics({ counts: () => jobs.counts(), workers: () => workers.census() }),
    history: new QueueHistory(jobs, clock),
    autoscale: null,
    dashboard: opts.dashboard === false ? null : new DashboardAccess(clock, opts.readOnly === true, Boolean(opts.tls)),
    heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
    shutdown: () => void close(),
  };

  const net = await listen(hub, requests, opts.host, opts.port, token, opts.tls ?? null);
  const address = net.wss.address();
  const port = address && typeof address === 'object' ? address.port : opts.port;
  log(`===== master (port ${port}, state ${opts.stateDir}, ${jobs.count()} jobs)`);
  const forgetPointer = recordMaster(port, opts.stateDir);

  // A timer's error would end the process: a locked database or a full disk must not.
  const guarded = (what: string, fn: () => void) => () => {
    try {
      fn();
    } catch (e) {
      log.warn(`${what} failed: ${(e as Error).message}`);
    }
  };
  const stall = new StallWatch(clock, log);
  const sweep = setInterval(
    guarded('Looking for lost workers', () => {
      stall.note(); // a sweep that runs late after a stall blames nobody for it
      sweepLostWorkers(hub, stall.resumedAt);
    }),
    Math.min(5000, opts.heartbeatTimeoutMs / 3),
  );
  sweep.unref();
  const pruner = opts.keepFinishedMs ? new Pruner(hub, opts.keepFinishedMs) : null;
  pruner?.start();
  // -retry: failed commands whose retry is due run again (a page at a time; the rest next second).
  const retries = setInterval(
    guarded('Starting retries', () => jobs.retriesDue(clock.now(), RETRIES_PER_TURN) > 0 && scheduler.kick()),
    RETRY_EVERY_MS,
  );
  retries.unref();
  const minutes = setInterval(guarded('Recording the queue', () => hub.history.roll()), HISTORY_EVERY_MS);
  minutes.unref();
  // Why ready jobs wait that no worker could take (waitReasons.ts): a second behind at most.
  const refreshReasons = guarded('Updating why jobs wait', () => refreshWaitReasons(jobs, workers.connected()));
  refreshReasons();
  const reasons = setInterval(refreshReasons, WAIT_REASONS_EVERY_MS);
  reasons.unref();
  const scaler = opts.autoscale ? new Autoscaler(hub, { ...opts.autoscale, pilot: { ...opts.autoscale.pilot, masterPort: port }, token }) : null;
  hub.autoscale = scaler;
  const scaling = scaler ? setInterval(guarded('Autoscaling', () => scaler.tick()), AUTOSCALE_EVERY_MS) : null;
  scaling?.unref();
  if (scaler) log(`Autoscale: pilots on Slurm, at most ${opts.autoscale!.max}`);
  const realtime = new RealtimeFeed(hub);
  const feed = setInterval(guarded('Sending realtime inputs', () => realtime.tick()), REALTIME_MS);
  feed.unref();

  if (opts.localWorkerArgs) {
    // The token goes through a pipe, not the environment or the command line: the worker's
    // jobs (and anyone reading /proc) must not find it there.
    const env: NodeJS.ProcessEnv = { ...process.env, Q_TOKEN_FD: '3' };
    delete env.Q_TOKEN;
    localWorker = spawn(
      process.execPath,
      [BIN_Q, '-mode', 'worker', '-masterPort', String(port), '-state', opts.stateDir, ...opts.localWorkerArgs],
      { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], env },
    );
    const pipe = localWorker.stdio[3] as NodeJS.WritableStream | null;
    pipe?.on('error', () => {});
    pipe?.end(token + '\n');
  }

  function close(): Promise<void> {
    if (closing) return closing;
    log('Saving state and shutting down master...');
    closing = (async () => {
      clearInterval(sweep);
      clearInterval(retries);
      clearInterval(reasons);
      clearInterval(minutes);
      if (scaling) clearInterval(scaling);
      pruner?.close();
      stall.close();
      clearInterval(feed);
      if (localWorker?.pid && localWorker.exitCode === null) {
        const exited = new Promise((r) => localWorker.once('exit', r));
        localWorker.kill('SIGTERM');
        await exited;
      }
      await net.close();
      await hub.logs.settled(); // the logs of jobs just deleted
      forgetPointer();
      workers.flush();
      await checkpoints.close();
      jobs.checkpoint();
      db.close();
      lock.release();
      resolveClosed();
    })();
    return closing;
  }

  return { port, closed, close };
}

/**
 * Jobs of a worker not heard from within the timeout go back to the queue.
 * @param listeningSince when the master started, or last resumed after a stall (StallWatch)
 */
export function sweepLostWorkers(hub: Hub, listeningSince: number): void {
  const now = hub.clock.now();
  for (const job of hub.jobs.active()) {
    if (!job.worker) continue;
    const session = hub.workers.get(job.worker);
    const lastSeen = Math.max(session?.lastSeen ?? 0, listeningSince);
    if (now - lastSeen <= hub.heartbeatTimeoutMs) continue;
    if (session?.socket) {
      // Silent but connected: the connection is dead too. Cut it before the scheduler runs,
      // or the job would go straight back to the same worker.
      session.socket.terminate();
      session.socket = null;
      hub.workers.persist(session);
    }
    takeBack(hub, job.handle, job.lease, `worker ${job.worker} not heard from for ${Math.round((now - lastSeen) / 1000)}s`, { lost: job.status !== 'assigned' });
  }
}
