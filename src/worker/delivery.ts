// Getting a job's output and result to the master: its stdout/stderr in bounded pieces, its
// outFiles by the chunk pump, and its result only once all of that has gone. Nothing is read
// while the master is away, so nothing is lost: what went into a socket that died is sent
// again from the positions the welcome gives.
import type { ManifestEntry, WorkerMessage } from '../protocol/workerMessages.js';
import type { Assignment } from '../protocol/jobState.js';
import { Reasons } from '../common/outcomes.js';
import { OutSync } from './files/outSync.js';
import type { HeldJob } from './heldJob.js';
import { jobRel } from './jobFiles.js';
import type { MasterLink } from './link.js';
import type { Log } from '../common/verbosity.js';

/** Output sent per stream per tick: a chatty job cannot flood the socket. */
export const OUTPUT_MAX_BYTES = 1024 * 1024;
/** How soon after a job starts its outputs are first copied. */
const FIRST_OUTFILES_MS = 200;
/** No more output is read while this much waits in the socket (a slow link). */
const OUTPUT_BACKLOG_BYTES = 8 * 1024 * 1024;

export class Delivery {
  constructor(
    private readonly link: MasterLink,
    private readonly log: Log,
    private readonly maxOutputEntries: number,
  ) {}

  private send(msg: WorkerMessage): void {
    this.link.send(msg);
  }

  /** Copies outputs back for a job that names outFiles (and does not share the working path). */
  outSyncFor(job: Assignment, root: string, inputs: ManifestEntry[]): OutSync | null {
    if (!job.outPath || job.shareWorkingPath || job.outFiles.length === 0) return null;
    return new OutSync(job, root, jobRel(job.outPath), this.link.pump, (m) => this.send(m), inputs, this.log, this.maxOutputEntries);
  }

  /**
   * Sends what the job wrote since last time, at most `budget` bytes per stream, and not
   * while the socket is backed up. Returns true when nothing is left to send.
   */
  drain(h: HeldJob, budget = OUTPUT_MAX_BYTES): boolean {
    const run = h.files;
    if (!run || h.dropped) return true;
    let done = true;
    for (const [stream, file] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
      for (let left = budget; ; ) {
        if (!this.link.connected || this.link.buffered > OUTPUT_BACKLOG_BYTES || left <= 0) {
          done = false;
          break;
        }
        const chunk = file.read(Math.min(left, OUTPUT_MAX_BYTES));
        if (!chunk) break;
        // (read may have skipped what the master would drop: the offset is where these bytes start)
        const offset = file.pos - chunk.length;
        left -= Math.max(chunk.length, 1);
        this.send({ type: 'output', handle: h.handle, lease: h.lease, stream, offset, data: chunk.toString('base64') });
      }
    }
    return done;
  }

  /** A finished job's result goes out once all its output and outputs have. */
  deliver(h: HeldJob): void {
    const result = h.result;
    if (!result || h.resultSent || h.dropped || !this.link.connected) return;
    if (!this.drain(h)) return; // the output tick carries on
    if (h.outSync && !h.outSynced) {
      if (!h.flushing) {
        h.flushing = true;
        void h.outSync.flush().then((ok) => {
          h.flushing = false;
          h.outSynced = ok;
          if (ok) this.deliver(h); // else: again after a reconnect
        });
      }
      return;
    }
    const problem = h.outSync?.problem;
    if (problem && result.exitReason === null) h.amendResult({ ...result, exitReason: Reasons.outputsNotDelivered(problem) });
    this.send({ type: 'finished', handle: h.handle, lease: h.lease, result: h.result });
    h.resultSent = true;
  }

  /** The output tick: running jobs send what they wrote, ended ones try their result. */
  tick(held: Iterable<HeldJob>): void {
    for (const h of held) {
      if (h.run) this.drain(h);
      else this.deliver(h);
    }
  }

  /**
   * A job started: its outputs are first copied soon after, not a whole period later, so
   * that the files it opens at once (a CodaLab bundle's stdout) are on the master from the
   * start, for a reader that follows them there.
   */
  started(h: HeldJob): void {
    if (h.outSync) setTimeout(() => this.syncOutputs([h]), FIRST_OUTFILES_MS).unref();
  }

  /** Copies outFiles of running jobs as they change, so little is left at the end. */
  syncOutputs(held: Iterable<HeldJob>): void {
    if (!this.link.connected) return;
    for (const h of held) if (h.run && !h.dropped) h.outSync?.pass();
  }
}
