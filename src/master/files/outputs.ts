// Outputs arriving from workers, written into the job's outPath on the master's side. A
// worker may write only inside the outPath of a job it holds a current lease for, only paths
// its outFiles name, and never through a link: every directory on the way must be a real one,
// and is held open while written to (beneath.ts).
import { openDirBeneath } from '../../files/beneath.js';
import { isInside, outRules, ruleFor, type OutRule } from '../../files/paths.js';
import { ChunkWriter } from '../../files/writer.js';
import type { ChunkHeader } from '../../protocol/frames.js';
import type { JobStore } from '../../store/jobs.js';
import { holds, type WorkerSession } from '../registry.js';
import { heldJob } from './inputs.js';
import { mkdirSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { Reasons } from '../../common/outcomes.js';
import type { Log } from '../../common/verbosity.js';

interface Target {
  lease: string;
  outPath: string;
  rules: OutRule[];
}

export class OutputSink {
  /** One writer per connection, so that what a worker left half written goes with it. */
  private readonly writers = new WeakMap<WorkerSession, ChunkWriter>();
  /** handle → where its outputs go, for the lease that asked last (a chunk is 256 KB: no lookup each). */
  private readonly targets = new Map<string, Target>();
  /** lease → why an output of it was refused, and how many were: its job cannot end done. */
  private readonly refused = new Map<string, { first: string; count: number }>();

  constructor(
    private readonly jobs: JobStore,
    private readonly log: Log,
  ) {}

  /** The outPath a worker's file goes beneath, or a reason to refuse it. */
  private resolve(s: WorkerSession, handle: string, lease: string, rel: string): string {
    let t = this.targets.get(handle);
    if (!t || t.lease !== lease || !holds(s, handle, lease)) {
      const job = heldJob(this.jobs, s, handle, lease);
      if (!job) throw new Error(`${s.handle} holds no lease ${lease} on ${handle}`);
      if (!job.outPath || job.shareWorkingPath) throw new Error(`${handle} has no outPath to copy into`);
      t = { lease, outPath: normalize(job.outPath), rules: outRules(job.outFiles) };
      // As fig's q did: an outPath the submitter has not made yet is made (beneath it, no
      // link is followed).
      mkdirSync(t.outPath, { recursive: true });
      if (this.targets.size > 10_000) this.targets.clear();
      this.targets.set(handle, t);
    }
    if (!ruleFor(t.rules, rel)) throw new Error(`${rel} is not named by the outFiles of ${handle}`);
    const target = join(t.outPath, rel);
    if (!isInside(target, t.outPath) || target === t.outPath) throw new Error(`${rel} is outside the outPath of ${handle}`);
    return t.outPath;
  }

  chunk(s: WorkerSession, h: Extract<ChunkHeader, { type: 'outChunk' }>, data: Buffer): void {
    try {
      const root = this.resolve(s, h.handle, h.lease, h.path);
      let writer = this.writers.get(s);
      if (!writer) this.writers.set(s, (writer = new ChunkWriter()));
      writer.write(root, h.path, { append: h.append, offset: h.offset, eof: h.eof, mtimeMs: h.mtimeMs, mode: h.mode, data });
    } catch (e) {
      this.log.warn(`Refused output ${h.path} of ${h.handle} from ${s.handle}: ${(e as Error).message}`);
      this.noteRefused(s, h.handle, h.lease, `${h.path}: ${(e as Error).message}`);
    }
  }

  /** Only for the job's current holder: a forged lease must not fail another worker's job. */
  private noteRefused(s: WorkerSession, handle: string, lease: string, why: string): void {
    if (!holds(s, handle, lease)) return;
    const r = this.refused.get(lease);
    if (r) r.count++;
    else {
      if (this.refused.size > 10_000) this.refused.clear();
      this.refused.set(lease, { first: why, count: 1 });
    }
  }

  /** Why outputs of this lease did not all arrive, or null; forgets it. */
  takeRefused(lease: string): string | null {
    const r = this.refused.get(lease);
    this.refused.delete(lease);
    if (!r) return null;
    return Reasons.outputsNotDelivered(`${r.first}${r.count > 1 ? ` (and ${r.count - 1} more)` : ''}`);
  }

  dir(s: WorkerSession, handle: string, lease: string, rel: string): void {
    try {
      openDirBeneath(this.resolve(s, handle, lease, rel), rel, { create: true }).close();
    } catch (e) {
      this.log.warn(`Refused output directory ${rel} of ${handle} from ${s.handle}: ${(e as Error).message}`);
      this.noteRefused(s, handle, lease, `${rel}: ${(e as Error).message}`);
    }
  }

  /** The worker's connection is gone: files it was sending are dropped (it sends them again). */
  closeSession(s: WorkerSession): void {
    this.writers.get(s)?.closeAll();
    this.writers.delete(s);
  }

  /** A job ended or moved: its cached target goes (the next lease looks it up again). */
  forget(handle: string): void {
    this.targets.delete(handle);
  }
}
