// Brings a job's inputs to this worker before it starts: asks for the manifest (`staging`),
// keeps a copy it staged earlier that is unchanged since (stagedCopies.ts) and of the same
// size and mtime, fetches the rest, and places each input in the mirror at its
// submitter-side path (as the old q did).
//
// Stager life: begun (staging sent) → manifest complete → files fetched → ready. A stage
// error from the master, a kill or the job being taken away ends it with an error instead.
// After a reconnect it begins again: the master sends the manifest anew and what arrived
// complete is not fetched twice.
import { decodeName, shownName, toFsPath } from '../../files/byteNames.js';
import { lstatSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { DirChain, splitLast } from '../../files/beneath.js';
import { jobRel } from '../jobFiles.js';
import type { StagedCopies } from './stagedCopies.js';
import { ChunkWriter } from '../../files/writer.js';
import type { Assignment } from '../../protocol/jobState.js';
import type { ChunkHeader } from '../../protocol/frames.js';
import type { ManifestEntry, WorkerMessage } from '../../protocol/workerMessages.js';

/** Paths per fetch message. */
const FETCH_BATCH = 1000;

export class Stager {
  readonly ready: Promise<ManifestEntry[]>;
  private resolve!: (entries: ManifestEntry[]) => void;
  private reject!: (e: Error) => void;
  private entries: ManifestEntry[] = [];
  private readonly pending = new Set<string>();
  private complete = false;
  private ended = false;
  private readonly writer = new ChunkWriter();

  constructor(
    readonly job: Assignment,
    /** Where the job's paths are mirrored (jobFiles.ts jobRoot). */
    private readonly root: string,
    private readonly send: (msg: WorkerMessage) => void,
    private readonly copies: StagedCopies,
  ) {
    this.ready = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.ready.catch(() => {});
  }

  /** Asks for the manifest (again, after a reconnect). */
  begin(): void {
    if (this.ended) return;
    this.entries = [];
    this.complete = false;
    this.pending.clear();
    this.writer.closeAll();
    this.send({ type: 'staging', handle: this.job.handle, lease: this.job.lease });
  }

  manifest(entries: readonly ManifestEntry[], last: boolean): void {
    if (this.ended || this.complete) return;
    this.entries.push(...entries);
    if (!last) return;
    this.complete = true;
    try {
      this.place();
    } catch (e) {
      return this.fail(`cannot place inputs here: ${(e as Error).message}`);
    }
    const need = [...this.pending];
    for (let i = 0; i < need.length; i += FETCH_BATCH) {
      this.send({ type: 'fetch', handle: this.job.handle, lease: this.job.lease, paths: need.slice(i, i + FETCH_BATCH) });
    }
    this.settle();
  }

  /**
   * Directories and links now; files this worker lacks go in `pending`. Nothing is placed
   * through a link (an earlier job may have planted one where an input goes), and a
   * directory in the way of an input is an error rather than removed: a job could swap a
   * link into it while it is being removed.
   */
  private place(): void {
    const dirs = new DirChain(this.root, { create: true });
    try {
      for (const e of this.entries) {
        const rel = jobRel(e.path);
        if (e.type === 'dir') {
          dirs.dir(rel);
          continue;
        }
        const { dir: relDir, name } = splitLast(rel);
        const dir = dirs.dir(relDir);
        const local = dir.child(name);
        let st;
        try {
          st = lstatSync(local);
        } catch {
          st = null;
        }
        if (e.type === 'link') {
          if (st?.isSymbolicLink() && decodeName(readlinkSync(local, { encoding: 'buffer' })) === e.target) continue;
          if (st?.isDirectory()) throw new Error(`${shownName(e.path)} is a directory here, and the input is a link`);
          if (st) unlinkSync(local);
          symlinkSync(toFsPath(e.target), local);
        } else if (!(st?.isFile() && this.copies.unchanged(this.key(rel), local, e.size, e.mtimeMs))) {
          this.pending.add(e.path);
        }
      }
    } finally {
      dirs.close();
    }
  }

  chunk(h: Extract<ChunkHeader, { type: 'inChunk' }>, data: Buffer): void {
    if (this.ended || !this.pending.has(h.path)) return;
    try {
      const rel = jobRel(h.path);
      const left = this.writer.write(this.root, rel, { append: false, offset: h.offset, eof: h.eof, mtimeMs: h.mtimeMs, mode: h.mode, data });
      if (left) this.copies.note(this.key(rel), left);
    } catch (e) {
      return this.fail(`cannot write input ${shownName(h.path)}: ${shownName((e as Error).message)}`);
    }
    if (h.eof) {
      this.pending.delete(h.path);
      this.settle();
    }
  }

  private key(rel: string): string {
    return `${this.root}\0${rel}`;
  }

  private settle(): void {
    if (this.complete && this.pending.size === 0 && !this.ended) {
      this.ended = true;
      this.resolve(this.entries);
    }
  }

  /** The master could not provide the inputs, or this job was killed or taken away meanwhile. */
  fail(message: string): void {
    if (this.ended) return;
    this.ended = true;
    this.writer.closeAll();
    this.reject(new Error(message));
  }

  get staging(): boolean {
    return !this.ended;
  }
}
