// Copies a job's outputs back to the master while it runs, and completely once it ends: the
// files and directories under its outPath that its outFiles name. `full:GLOB` sends a file
// whenever its size or mtime changed: only what was added when it only grew (the master
// appends in place, sentCopy.ts), else the whole file; `append:GLOB` sends only the bytes
// added since the last send (and the whole file again if it shrank). Files go through the worker's chunk pump,
// so a large output never sits in memory. Links are not copied, and none is followed: the
// walk and every open go through the directories themselves (beneath.ts), so a job that swaps
// a directory for a link while it is copied gets nothing from outside its outPath.
import { join } from 'node:path';
import { walkBeneath } from '../../files/beneath.js';
import { mayHoldMatches, outRules, ruleFor, type OutRule } from '../../files/paths.js';
import type { ChunkPump } from '../../files/pump.js';
import type { Assignment } from '../../protocol/jobState.js';
import type { ManifestEntry, WorkerMessage } from '../../protocol/workerMessages.js';
import type { Log } from '../../common/verbosity.js';
import { SentCopy } from './sentCopy.js';
import { formatSize } from '../../common/units.js';
import { MAX_PATH } from '../../protocol/fields.js';
import { shownName } from '../../files/byteNames.js';

export class OutSync {
  private readonly rules: OutRule[];
  private readonly synced = new Map<string, SentCopy>();
  private readonly dirs = new Set<string>();
  private readonly inFlight = new Set<string>();
  private lost = false;
  /** What cannot be copied however often it is tried (a walk that could not finish, a path too long). */
  private fatal: string | null = null;
  /**
   * Outputs whose last read failed, with the size and mtime they had then. Each pass tries
   * them again (a job may have swapped their directory away for a moment); the last copy tries
   * once, and the job says which could not be read.
   */
  private readonly unread = new Map<string, { size: number; mtimeMs: number }>();
  private waiters: (() => void)[] = [];

  /**
   * @param base the scratch base, and `outRel` the outPath beneath it
   * @param inputs the job's staged inputs: those inside the outPath are already on the master
   */
  constructor(
    private readonly job: Assignment,
    private readonly base: string,
    private readonly outRel: string,
    private readonly pump: ChunkPump,
    private readonly send: (msg: WorkerMessage) => void,
    inputs: readonly ManifestEntry[],
    private readonly log: Log,
    /** Entries one walk reads: more fails the job (a partial walk would pass for the whole). */
    private readonly maxEntries: number,
  ) {
    this.rules = outRules(job.outFiles);
    const prefix = job.outPath ? job.outPath.replace(/\/*$/, '/') : null;
    for (const e of inputs) {
      if (!prefix || !e.path.startsWith(prefix)) continue;
      const rel = e.path.slice(prefix.length);
      if (e.type === 'dir') this.dirs.add(rel);
      else if (e.type === 'file') this.synced.set(rel, SentCopy.staged(e.size, e.mtimeMs));
    }
  }

  /**
   * The connection went: what went into the old socket may never have arrived, so every
   * output is sent again (an append from its start).
   */
  reset(): void {
    this.synced.clear();
    this.dirs.clear();
  }

  /** What could not be copied: the job says so (null: everything so far was). */
  get problem(): string | null {
    if (this.fatal) return this.fatal;
    const first = this.unread.keys().next();
    return first.done ? null : `${shownName(first.value)} could not be read`;
  }

  /**
   * Queues what changed since it was last sent, and what could not be read last time unless
   * `retryUnread` is false and it has not changed since; returns how many files it queued.
   */
  pass(retryUnread = true): number {
    let entries: ManifestEntry[];
    try {
      // Only directories that could hold a match are read: CodaLab's outPath is its whole
      // bundle store, of which a job names its own UUID* entries.
      entries = walkBeneath(this.base, this.outRel, this.maxEntries, (rel) => mayHoldMatches(this.rules, rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.fatal ??= (e as Error).message;
      return 0; // (ENOENT: no outPath yet)
    }
    const { handle, lease } = this.job;
    const top = join(this.base, this.outRel);
    let queued = 0;
    const present = new Set<string>();
    for (const e of entries) {
      if (e.path === top || e.type === 'link') continue;
      const rel = e.path.slice(top.length + 1);
      present.add(rel);
      const rule = ruleFor(this.rules, rel);
      if (!rule) continue;
      // A path the master would refuse (its message dropped) fails the job with the reason.
      if (rel.length > MAX_PATH) {
        this.fatal ??= `${shownName(rel.slice(0, 60))}…: a path of ${rel.length} characters inside the outPath, longer than q carries (${MAX_PATH})`;
        continue;
      }
      if (e.type === 'dir') {
        if (!this.dirs.has(rel)) this.send({ type: 'outDir', handle, lease, path: rel });
        this.dirs.add(rel);
        continue;
      }
      if (this.inFlight.has(rel)) continue;
      const failed = this.unread.get(rel);
      if (failed && !retryUnread && failed.size === e.size && failed.mtimeMs === e.mtimeMs) continue;
      const last = this.synced.get(rel);
      if (last?.same(e.size, e.mtimeMs)) continue;
      // A file larger than the job's -disk (a sparse one takes no blocks here) is not sent:
      // it would write that much on the master. The disk limit ends a job that goes on.
      if (e.size > this.job.disk * 1024 * 1024) {
        this.fatal ??= `${shownName(rel)} is ${formatSize(Math.ceil(e.size / 1024 / 1024))}, more than the job's -disk ${formatSize(this.job.disk)}`;
        continue;
      }
      const copy = SentCopy.starting(last);
      const resume = last?.mayResume(e.size, rule.append)
        ? { at: last.size, ...(rule.append ? {} : { verify: (fd: number, st: { size: number; ino: number }) => last.stillStartOf(fd, st) }) }
        : undefined;
      this.inFlight.add(rel);
      queued++;
      this.pump.enqueue({
        root: this.base,
        rel: `${this.outRel}/${rel}`,
        from: 0,
        ...(resume ? { resume } : {}),
        header: (offset, eof, info) => ({ type: 'outChunk', handle, lease, path: rel, append: info.resumed, offset, eof, mtimeMs: info.mtimeMs, mode: info.mode }),
        opened: (info) => copy.opened(info.resumed),
        data: (bytes) => copy.sent(bytes),
        done: (how) => {
          this.inFlight.delete(rel);
          // What was sent is the file as the pump found it; a later change is sent next time.
          if (how.end === 'sent') {
            copy.complete(how.size, how.mtimeMs, how.ino, how.resumed);
            this.synced.set(rel, copy);
            this.unread.delete(rel);
          }
          else if (how.end === 'lost') this.lost = true;
          else {
            if (!this.unread.has(rel)) this.log.warn(`Could not copy output ${shownName(rel)} of ${handle}: it cannot be read (trying again)`);
            this.unread.set(rel, { size: e.size, mtimeMs: e.mtimeMs });
            // What the master has of it is not known: the next send is whole.
            copy.unknown(e.size, e.mtimeMs);
            copy.stale = true;
            this.synced.set(rel, copy);
          }
          if (this.inFlight.size === 0) for (const w of this.waiters.splice(0)) w();
        },
      });
    }
    // An output that could not be read and is gone since is no longer one the job lost.
    for (const rel of this.unread.keys()) if (!present.has(rel)) this.unread.delete(rel);
    return queued;
  }

  /**
   * The last copy of a finished job: passes until one finds nothing new, waiting for each
   * to reach the socket. False when the connection went meanwhile (try again after a
   * reconnect).
   */
  async flush(): Promise<boolean> {
    this.lost = false;
    for (let round = 0; round < 50; round++) {
      const busy = this.inFlight.size > 0;
      const queued = this.pass(round === 0);
      if (!busy && queued === 0 && !(await this.replaceChanged())) return true;
      if (this.inFlight.size > 0) await new Promise<void>((r) => this.waiters.push(r));
      if (this.lost) return false;
    }
    return true; // a job's leftover that keeps writing does not hold its result forever
  }

  /**
   * The copies the master built by appending, checked against the files whole: one that
   * changed before its old end (which the pass's look at its last bytes can miss) is marked
   * to be sent whole. Returns whether any was.
   */
  private async replaceChanged(): Promise<boolean> {
    let any = false;
    for (const [rel, copy] of this.synced) {
      if (!copy.grown || copy.stale || !copy.known) continue;
      if (await copy.verify(this.base, `${this.outRel}/${rel}`)) continue;
      copy.stale = true;
      any = true;
    }
    return any;
  }
}
