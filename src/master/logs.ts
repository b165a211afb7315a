// The master's copy of each job's output, held to the job's -logLimit, appended as the worker
// streams it and fanned out to clients that follow it (`q -log -follow`).
//
// Each chunk names where it starts in its stream (stdout or stderr), and the positions record
// how far each stream has come. After a reconnect, even one to a master restarted by kill -9,
// the worker goes on from there: nothing is lost that reached these files, and nothing repeated.
//
// The files of job H in STATE/logs:
//   H.log      the head: the first half of the limit (the whole log of a job that stayed under it)
//   H.tail.N   the tail, in segments of a quarter of its half; the oldest goes once the newer ones
//              hold a whole half, and what it held counts as dropped
//   H.pos      the streams' positions, the tail's segments (first..next-1) and the bytes dropped;
//              replaced whole (rename) after every append, kept after the end only by a log
//              that was cut
// Appends go to the newest files only, so bytes a master killed mid-append wrote beyond what
// H.pos counts are cut from the newest files backwards when the job is next touched; they come
// again from the worker. Readers take a LogSnapshot: head, a line saying how much was dropped,
// and the last half-limit of the tail.
import { appendFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { droppedNote, logKeeps } from '../common/logLimit.js';
import { LogSnapshot, type LogPart } from './logSnapshot.js';

export type LogListener = { data(chunk: Buffer): void; end(status: string): void };

export interface StreamPositions {
  stdout: number;
  stderr: number;
}

/** Jobs whose files are being removed at once, off the event loop (discard). */
const REMOVING_AT_ONCE = 16;

/** Removes a file if it is there; false when it was not (or could not be removed). */
const unlinked = (path: string): Promise<boolean> => unlink(path).then(() => true, () => false);

/** A count H.pos holds, or 0 when it holds none that is valid. */
const count = (v: unknown): number => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : 0);

/** The tail is kept in this many segments (plus the one being filled). */
const SEGMENTS = 4;

interface Layout extends StreamPositions {
  /** Tail segments first..next-1 exist. */
  first: number;
  next: number;
  /** Bytes of the removed segments. */
  dropped: number;
}

interface State extends Layout {
  limitMb: number;
  head: number;
  /** Sizes of segments first..next-1. */
  segs: number[];
  tailBytes: number;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

export class LogSpool {
  private readonly listeners = new Map<string, Set<LogListener>>();
  private readonly states = new Map<string, State>();
  /** Jobs gone for good whose files are still to be removed, with the first tail segment if known. */
  private readonly doomed: { handle: string; first: number | null }[] = [];
  private removing = 0;
  private readonly whenSettled: (() => void)[] = [];

  /** @param limitOf the job's -logLimit in MB */
  constructor(
    private readonly dir: string,
    private readonly limitOf: (handle: string) => number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** The head file: the whole log of a job that stayed under its limit. */
  private path(handle: string): string {
    return join(this.dir, `${handle}.log`);
  }

  private posPath(handle: string): string {
    return join(this.dir, `${handle}.pos`);
  }

  private segPath(handle: string, n: number): string {
    return join(this.dir, `${handle}.tail.${n}`);
  }

  /** The job's files as they are, without repairing anything. */
  private read(handle: string): State {
    let saved: Partial<Layout> = {};
    try {
      saved = JSON.parse(readFileSync(this.posPath(handle), 'utf8')) as Partial<Layout>;
    } catch {
      // no output yet, or a log that was never cut
    }
    const st: State = {
      stdout: count(saved.stdout),
      stderr: count(saved.stderr),
      first: count(saved.first),
      next: count(saved.first),
      dropped: count(saved.dropped),
      limitMb: this.limitOf(handle),
      head: Math.max(0, fileSize(this.path(handle))),
      segs: [],
      tailBytes: 0,
    };
    // Segments made after H.pos was last written are found too: they hold counted bytes or
    // the uncounted ones repair() cuts.
    for (let size = fileSize(this.segPath(handle, st.next)); size >= 0; size = fileSize(this.segPath(handle, st.next))) {
      st.segs.push(size);
      st.tailBytes += size;
      st.next++;
    }
    return st;
  }

  /** Cuts bytes H.pos does not count, and segments it says were removed. */
  private repair(handle: string, st: State): void {
    for (let n = st.first - 1; n >= 0 && existsSync(this.segPath(handle, n)); n--) rmSync(this.segPath(handle, n), { force: true });
    let excess = st.head + st.tailBytes + st.dropped - (st.stdout + st.stderr);
    while (excess > 0 && st.segs.length > 0) {
      const n = st.next - 1;
      const size = st.segs[st.segs.length - 1]!;
      const cut = Math.min(size, excess);
      if (cut === size) {
        rmSync(this.segPath(handle, n), { force: true });
        st.segs.pop();
        st.next--;
      } else {
        truncateSync(this.segPath(handle, n), size - cut);
        st.segs[st.segs.length - 1] = size - cut;
      }
      st.tailBytes -= cut;
      excess -= cut;
    }
    if (excess > 0 && st.head > 0) {
      st.head = Math.max(0, st.head - excess);
      truncateSync(this.path(handle), st.head);
    }
  }

  private state(handle: string): State {
    let st = this.states.get(handle);
    if (!st) {
      st = this.read(handle);
      this.repair(handle, st);
      this.states.set(handle, st);
    }
    return st;
  }

  /** How much of each of the job's streams is here. */
  positionsOf(handle: string): StreamPositions {
    const st = this.state(handle);
    return { stdout: st.stdout, stderr: st.stderr };
  }

  /** Appends what of `chunk` (at `offset` of its stream) is not here yet. */
  append(handle: string, stream: keyof StreamPositions, offset: number, chunk: Buffer): void {
    const st = this.state(handle);
    const have = st[stream];
    if (offset + chunk.length <= have) return; // sent again after a reconnect: here already
    const fresh = offset < have ? chunk.subarray(have - offset) : chunk;
    // The worker skipped what neither half would keep (worker/jobFiles.ts): dropped.
    if (offset > have) st.dropped += offset - have;
    const keeps = logKeeps(st.limitMb);
    let rest = fresh;
    if (st.head < keeps.head) {
      const part = rest.subarray(0, keeps.head - st.head);
      appendFileSync(this.path(handle), part);
      st.head += part.length;
      rest = rest.subarray(part.length);
    }
    const gone = rest.length > 0 ? this.appendTail(handle, st, rest, keeps.tail) : [];
    st[stream] = offset + chunk.length;
    this.save(handle, st);
    for (const n of gone) rmSync(this.segPath(handle, n), { force: true });
    for (const l of this.listeners.get(handle) ?? []) l.data(fresh);
  }

  /** Returns the segments to remove once H.pos no longer counts them. */
  private appendTail(handle: string, st: State, bytes: Buffer, tail: number): number[] {
    const segSize = Math.max(1, Math.ceil(tail / SEGMENTS));
    for (let rest = bytes; rest.length > 0; ) {
      if (st.segs.length === 0 || st.segs[st.segs.length - 1]! >= segSize) {
        st.segs.push(0);
        st.next++;
      }
      const last = st.segs.length - 1;
      const part = rest.subarray(0, segSize - st.segs[last]!);
      appendFileSync(this.segPath(handle, st.next - 1), part);
      st.segs[last]! += part.length;
      st.tailBytes += part.length;
      rest = rest.subarray(part.length);
    }
    const gone: number[] = [];
    while (st.segs.length > 1 && st.tailBytes - st.segs[0]! >= tail) {
      const size = st.segs.shift()!;
      st.tailBytes -= size;
      st.dropped += size;
      gone.push(st.first++);
    }
    return gone;
  }

  private save(handle: string, st: State): void {
    const layout: Layout = { stdout: st.stdout, stderr: st.stderr, first: st.first, next: st.next, dropped: st.dropped };
    const tmp = join(this.dir, `.${handle}.pos`);
    writeFileSync(tmp, JSON.stringify(layout));
    renameSync(tmp, this.posPath(handle));
  }

  /** Bytes dropped from the middle so far: removed segments, and what the tail holds beyond its half. */
  private droppedOf(st: State): number {
    return st.dropped + Math.max(0, st.tailBytes - logKeeps(st.limitMb).tail);
  }

  /** The log as it is now, to read whole or in part; the caller closes it. */
  snapshot(handle: string): LogSnapshot {
    const st = this.states.get(handle) ?? this.read(handle);
    const parts: LogPart[] = [];
    const open = (path: string) => {
      try {
        return openSync(path, 'r');
      } catch {
        return null;
      }
    };
    const headFd = open(this.path(handle));
    if (headFd !== null) parts.push({ fd: headFd, start: 0, length: st.head });
    const dropped = this.droppedOf(st);
    if (dropped > 0) {
      let newline = '';
      if (headFd !== null && st.head > 0) {
        const last = Buffer.alloc(1);
        readSync(headFd, last, 0, 1, st.head - 1);
        if (last[0] !== 10) newline = '\n';
      }
      parts.push({ data: Buffer.from(`${newline}[q: ${droppedNote(dropped, st.limitMb)}]\n`) });
    }
    let skip = Math.max(0, st.tailBytes - logKeeps(st.limitMb).tail);
    st.segs.forEach((size, i) => {
      const fd = open(this.segPath(handle, st.first + i));
      const start = Math.min(skip, size);
      skip -= start;
      if (fd !== null) parts.push({ fd, start, length: size - start });
    });
    return new LogSnapshot(parts);
  }

  /**
   * Subscribes to what comes, and takes the snapshot of what was there before it: the caller
   * sends that (logStream.ts). Nothing is lost or repeated in between, since Node runs this
   * synchronously and appends only add past the snapshot.
   */
  follow(handle: string, listener: LogListener): { existing: LogSnapshot; stop: () => void } {
    const existing = this.snapshot(handle);
    let set = this.listeners.get(handle);
    if (!set) this.listeners.set(handle, (set = new Set()));
    set.add(listener);
    return {
      existing,
      stop: () => {
        set.delete(listener);
        if (set.size === 0) this.listeners.delete(handle);
      },
    };
  }

  /**
   * The job ended (or will never produce more here): tell followers and let them go. Returns
   * the bytes its log dropped.
   */
  end(handle: string, status: string): number {
    // Most jobs wrote nothing since this master started: no positions, nothing to look up.
    const st = this.states.get(handle) ?? (existsSync(this.posPath(handle)) ? this.read(handle) : null);
    this.states.delete(handle);
    // A log that was cut keeps its layout; any other is its head file alone.
    if (st && st.segs.length === 0) rmSync(this.posPath(handle), { force: true });
    this.endFollowers(handle, status);
    return st ? this.droppedOf(st) : 0;
  }

  /** Tells the job's followers it ended with `status`, and lets them go. */
  private endFollowers(handle: string, status: string): void {
    const set = this.listeners.get(handle);
    this.listeners.delete(handle);
    for (const l of set ?? []) l.end(status);
  }

  /** Output of a rerun starts afresh (its next attempt may write at once, so it goes now). */
  remove(handle: string): void {
    const st = this.states.get(handle) ?? this.read(handle);
    this.states.delete(handle);
    for (let n = st.first - 1; n >= 0 && existsSync(this.segPath(handle, n)); n--) rmSync(this.segPath(handle, n), { force: true });
    for (let n = st.first; n < st.next; n++) rmSync(this.segPath(handle, n), { force: true });
    rmSync(this.path(handle), { force: true });
    rmSync(this.posPath(handle), { force: true });
  }

  /**
   * A job gone for good (deleted, pruned): its followers are told `status` and let go now, its
   * files are removed off the event loop (settled() says when). Its handle is never given
   * again, so nothing can write there meanwhile. A synchronous removal cost the event loop
   * five or six file-system calls a job, each a lookup in a directory of every job's log, and
   * on this machine's disk a delete of 100 jobs held the master for up to 952 ms.
   */
  discard(handle: string, status: string): void {
    const st = this.states.get(handle);
    this.states.delete(handle);
    this.endFollowers(handle, status);
    this.doomed.push({ handle, first: st ? st.first : null });
    this.pump();
  }

  /** Resolves once the files of every job discarded so far are gone. */
  settled(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.whenSettled.push(resolve));
  }

  private get idle(): boolean {
    return this.doomed.length === 0 && this.removing === 0;
  }

  private pump(): void {
    while (this.removing < REMOVING_AT_ONCE && this.doomed.length > 0) {
      const { handle, first } = this.doomed.shift()!;
      this.removing++;
      void this.removeFiles(handle, first).finally(() => {
        this.removing--;
        this.pump();
        if (this.idle) for (const resolve of this.whenSettled.splice(0)) resolve();
      });
    }
  }

  /** remove(), with the event loop free meanwhile: the head, the segments below and from `first`, H.pos. */
  private async removeFiles(handle: string, known: number | null): Promise<void> {
    const head = unlinked(this.path(handle));
    let first = known ?? 0;
    let hasPos = true;
    if (known === null) {
      try {
        first = count((JSON.parse(await readFile(this.posPath(handle), 'utf8')) as Partial<Layout>).first);
      } catch {
        hasPos = false; // a log that was never cut, or no output at all (most jobs)
      }
    }
    for (let n = first - 1; n >= 0 && (await unlinked(this.segPath(handle, n))); n--);
    for (let n = first; await unlinked(this.segPath(handle, n)); n++);
    await head;
    if (hasPos) await unlinked(this.posPath(handle));
  }
}
