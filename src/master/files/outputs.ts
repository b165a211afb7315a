// Outputs arriving from workers, written into the job's outPath on the master's side. A
// worker may write only inside the outPath of a job it holds a current lease for, only paths
// its outFiles name, and never through a link: every directory on the way must be a real one,
// and is held open while written to (beneath.ts).
//
// What a job may put on the master's disk is bounded: its outputs together at most -maxOutput
// (the size of each file as written, so a file sent again whole counts once), and none while
// the file system they go to has less than -minFreeDisk free (the master's own database may
// live there). Past either, its outputs are refused and the job fails saying which.
import { openDirBeneath } from '../../files/beneath.js';
import { isInside, outRules, ruleFor, type OutRule } from '../../files/paths.js';
import { ChunkWriter } from '../../files/writer.js';
import type { ChunkHeader } from '../../protocol/frames.js';
import type { JobStore } from '../../store/jobs.js';
import { holds, type WorkerSession } from '../registry.js';
import { heldJob } from './inputs.js';
import { mkdirSync, statfsSync } from 'node:fs';
import { formatSize } from '../../common/units.js';
import { join, normalize } from 'node:path';
import { Reasons } from '../../common/outcomes.js';
import type { Log } from '../../common/verbosity.js';
import { shownName } from '../../files/byteNames.js';

interface Target {
  lease: string;
  outPath: string;
  rules: OutRule[];
  /** Bytes each of its files holds as written so far, and their sum. */
  sizes: Map<string, number>;
  total: number;
}

export interface OutputLimits {
  /** MB one job's outputs may take on the master's disk (-maxOutput). */
  maxOutputMb: number;
  /** MB of free disk below which no output is written (-minFreeDisk). */
  minFreeDiskMb: number;
}

/** How long a free-space reading of an outPath is used. */
const FREE_EVERY_MS = 1000;

export class OutputSink {
  /** One writer per connection, so that what a worker left half written goes with it. */
  private readonly writers = new WeakMap<WorkerSession, ChunkWriter>();
  /** handle → where its outputs go, for the lease that asked last (a chunk is 256 KB: no lookup each). */
  private readonly targets = new Map<string, Target>();
  /** lease → why an output of it was refused, and how many were: its job cannot end done. */
  private readonly refused = new Map<string, { first: string; count: number }>();

  /** outPath → free MB and when read. */
  private readonly free = new Map<string, { mb: number; at: number }>();

  constructor(
    private readonly jobs: JobStore,
    private readonly log: Log,
    private readonly limits: OutputLimits,
    private readonly now: () => number,
  ) {}

  private freeMb(dir: string): number {
    const t = this.now();
    const seen = this.free.get(dir);
    if (seen && t - seen.at < FREE_EVERY_MS) return seen.mb;
    let mb = Infinity;
    try {
      const s = statfsSync(dir);
      mb = (s.bavail * s.bsize) / 1024 / 1024;
    } catch {
      // not known: not refused for it
    }
    if (this.free.size > 10_000) this.free.clear();
    this.free.set(dir, { mb, at: t });
    return mb;
  }

  /** Refuses a chunk that would take the job past -maxOutput or the disk below -minFreeDisk. */
  private budget(t: Target, path: string, end: number): void {
    const before = t.sizes.get(path) ?? 0;
    const total = t.total - before + end;
    if (total > this.limits.maxOutputMb * 1024 * 1024) {
      throw new Error(`over -maxOutput ${formatSize(this.limits.maxOutputMb)} (the job's outputs came to more than that on the master)`);
    }
    if (end > before) {
      const free = this.freeMb(t.outPath);
      if (free < this.limits.minFreeDiskMb) throw new Error(`only ${formatSize(Math.floor(free))} free under ${t.outPath} on the master (-minFreeDisk ${formatSize(this.limits.minFreeDiskMb)})`);
    }
    t.sizes.set(path, end);
    t.total = total;
  }

  /** The outPath a worker's file goes beneath, or a reason to refuse it. */
  private resolve(s: WorkerSession, handle: string, lease: string, rel: string): Target {
    let t = this.targets.get(handle);
    if (!t || t.lease !== lease || !holds(s, handle, lease)) {
      const job = heldJob(this.jobs, s, handle, lease);
      if (!job) throw new Error(`${s.handle} holds no lease ${lease} on ${handle}`);
      if (!job.outPath || job.shareWorkingPath) throw new Error(`${handle} has no outPath to copy into`);
      t = { lease, outPath: normalize(job.outPath), rules: outRules(job.outFiles), sizes: new Map(), total: 0 };
      // As fig's q did: an outPath the submitter has not made yet is made (beneath it, no
      // link is followed).
      mkdirSync(t.outPath, { recursive: true });
      if (this.targets.size > 10_000) this.targets.clear();
      this.targets.set(handle, t);
    }
    if (!ruleFor(t.rules, rel)) throw new Error(`${rel} is not named by the outFiles of ${handle}`);
    const target = join(t.outPath, rel);
    if (!isInside(target, t.outPath) || target === t.outPath) throw new Error(`${rel} is outside the outPath of ${handle}`);
    return t;
  }

  chunk(s: WorkerSession, h: Extract<ChunkHeader, { type: 'outChunk' }>, data: Buffer): void {
    try {
      const t = this.resolve(s, h.handle, h.lease, h.path);
      let writer = this.writers.get(s);
      if (!writer) this.writers.set(s, (writer = new ChunkWriter()));
      try {
        this.budget(t, h.path, h.offset + data.length);
      } catch (e) {
        writer.abandon(t.outPath, h.path);
        throw e;
      }
      const root = t.outPath;
      writer.write(root, h.path, { append: h.append, offset: h.offset, eof: h.eof, mtimeMs: h.mtimeMs, mode: h.mode, data });
    } catch (e) {
      this.log.warn(`Refused output ${shownName(h.path)} of ${h.handle} from ${s.handle}: ${(e as Error).message}`);
      this.noteRefused(s, h.handle, h.lease, `${shownName(h.path)}: ${shownName((e as Error).message)}`);
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
      openDirBeneath(this.resolve(s, handle, lease, rel).outPath, rel, { create: true }).close();
    } catch (e) {
      this.log.warn(`Refused output directory ${shownName(rel)} of ${handle} from ${s.handle}: ${(e as Error).message}`);
      this.noteRefused(s, handle, lease, `${shownName(rel)}: ${shownName((e as Error).message)}`);
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
