// What /metrics says, in Prometheus's text format through prom-client (the format, its
// escaping and its histograms are not ours to get right). One q_ prefix, base units, _total
// counters, no label per job. Gauges are read when scraped from what the master already
// keeps: job_counts (a few rows, whatever the table holds) and the worker registry; counters
// and histograms count from this master's start, as Prometheus expects of a counter.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Q_VERSION } from '../../common/version.js';
import { Reasons } from '../../common/outcomes.js';
import { JobStatuses, type JobView } from '../../protocol/jobState.js';
import type { JobCount } from '../../protocol/clientMessages.js';
import type { WorkerCensus } from '../registry.js';

/** How a job ended, as q_jobs_finished_total's `result` says it. */
const FINISH_RESULTS = ['done', 'failed', 'killed', 'limit', 'lost'] as const;
export type FinishResult = (typeof FINISH_RESULTS)[number];

export function finishResult(job: Pick<JobView, 'status' | 'exitReason'>): FinishResult {
  if (job.status === 'done') return 'done';
  const why = job.exitReason ?? '';
  if (why.startsWith(Reasons.workerLost)) return 'lost';
  if (/^(Time|Memory|Disk) limit exceeded/.test(why)) return 'limit';
  if (why === Reasons.killedByRequest || why === Reasons.killedBeforeStart || why === Reasons.deleted) return 'killed';
  return 'failed';
}

export interface MetricsSource {
  counts(): JobCount[];
  workers(): WorkerCensus;
}

// Seconds: from a quick job's to a two-day one's.
const BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 48 * 3600];

export class MasterMetrics {
  readonly registry = new Registry();
  private readonly submittedTotal: Counter;
  private readonly finishedTotal: Counter<'result'>;
  private readonly waitSeconds: Histogram;
  private readonly runSeconds: Histogram;
  /** The worker registry as this scrape read it: once, for both worker gauges. */
  private scraped: WorkerCensus = { connected: [], away: 0 };

  constructor(private readonly source: MetricsSource) {
    const registers = [this.registry];
    const scraped = () => this.scraped;
    new Gauge({
      name: 'q_jobs',
      help: 'Jobs in the table, by status and queue (queue="" for jobs of no queue).',
      labelNames: ['status', 'queue'],
      registers,
      collect() {
        this.reset();
        for (const status of JobStatuses) this.set({ status, queue: '' }, 0);
        for (const c of source.counts()) this.set({ status: c.status, queue: c.queue }, c.n);
      },
    });
    new Gauge({
      name: 'q_workers',
      help: 'Workers the master knows, by state: connected, or away (known, not connected).',
      labelNames: ['state'],
      registers,
      collect() {
        const ws = scraped();
        this.set({ state: 'connected' }, ws.connected.length);
        this.set({ state: 'away' }, ws.away);
      },
    });
    new Gauge({
      name: 'q_worker_slots',
      help: "Connected workers' slots, by worker and state: busy (holding a job) or free.",
      labelNames: ['worker', 'state'],
      registers,
      collect() {
        this.reset();
        for (const w of scraped().connected) {
          this.set({ worker: w.handle, state: 'busy' }, w.busy);
          this.set({ worker: w.handle, state: 'free' }, w.slots - w.busy);
        }
      },
    });
    new Gauge({ name: 'q_build_info', help: 'This master: its q version and Node version.', labelNames: ['version', 'node'], registers }).set(
      { version: Q_VERSION, node: process.version },
      1,
    );
    this.submittedTotal = new Counter({ name: 'q_jobs_submitted_total', help: 'Jobs added since this master started.', registers });
    this.finishedTotal = new Counter({
      name: 'q_jobs_finished_total',
      help: 'Jobs that ended since this master started, by result: done, failed, killed, limit, lost.',
      labelNames: ['result'],
      registers,
    });
    for (const result of FINISH_RESULTS) this.finishedTotal.inc({ result }, 0);
    this.waitSeconds = new Histogram({ name: 'q_job_wait_seconds', help: 'From added to started, for jobs that ended.', buckets: BUCKETS, registers });
    this.runSeconds = new Histogram({ name: 'q_job_run_seconds', help: 'How long jobs that ended ran.', buckets: BUCKETS, registers });
    collectDefaultMetrics({ register: this.registry, prefix: 'q_master_' });
  }

  submitted(n: number): void {
    this.submittedTotal.inc(n);
  }

  ended(job: JobView): void {
    this.finishedTotal.inc({ result: finishResult(job) });
    if (job.startedAt !== null) {
      this.waitSeconds.observe(Math.max(0, job.startedAt - job.createdAt) / 1000);
      if (job.realTime >= 0) this.runSeconds.observe(job.realTime);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    // Kept until the next scrape: two scrapes at once both read the newer one.
    this.scraped = this.source.workers();
    return this.registry.metrics();
  }
}
