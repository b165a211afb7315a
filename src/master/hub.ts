// What the master's parts share: the stores, the worker registry, the scheduler, the log
// spool, the clock. What happens to a job is decided in lifecycle.ts.
import type { Clock } from '../common/clock.js';
import type { JobStore } from '../store/jobs.js';
import type { LogSpool } from './logs.js';
import type { OutputSink } from './files/outputs.js';
import type { WorkerRegistry } from './registry.js';
import type { Scheduler } from './scheduler.js';
import type { MasterMetrics } from './http/metrics.js';
import type { DashboardAccess } from './http/access.js';
import type { QueueHistory } from './queueHistory.js';
import type { Log } from '../common/verbosity.js';

export interface Hub {
  jobs: JobStore;
  workers: WorkerRegistry;
  scheduler: Scheduler;
  logs: LogSpool;
  outputs: OutputSink;
  clock: Clock;
  log: Log;
  metrics: MasterMetrics;
  history: QueueHistory;
  /** -autoscale's, for -w; null: off. */
  autoscale: { readonly status: string } | null;
  /** null: -dashboard false. */
  dashboard: DashboardAccess | null;
  /** How long a silent worker keeps its jobs, in ms. */
  heartbeatTimeoutMs: number;
  shutdown(): void;
}
