// WAL checkpoints on a thread of their own, so that the master's event loop never waits for them.
//
// Why: SQLite checkpoints by itself inside the commit that fills the WAL past 1,000 pages:
// that commit copies the WAL into the database file and fsyncs it, and on a table of a
// million jobs it held the master 100-700 ms (an add of 500 jobs that usually takes 20 ms).
// WAL mode lets another connection checkpoint while this one reads and writes, so the
// master's connection stops checkpointing (wal_autocheckpoint = 0) and a worker thread with
// its own connection runs a PASSIVE checkpoint every CHECKPOINT_EVERY_MS.
// PASSIVE never takes the writer's lock, so it never makes the master wait.
// The WAL starts again from its beginning (cut back to journal_size_limit, db.ts) only at a
// commit that finds every frame already copied. Under a steady stream of writes the thread
// never catches up on its own: each pass ends behind the writes made meanwhile, and the WAL
// grew to 4.5 GB while a million jobs were added. So when the thread reports a WAL past
// CATCH_UP_FRAMES, the big writes (adds) pause, the thread makes one more pass, and the master
// copies the few frames written during that pass itself, after which its next commit starts
// the WAL again and the adds go on. Without the pause, the master's copy was of everything
// written during a long pass: 10-250 ms on a table of a million jobs, the master's longest
// stall; with it, an add waits (for one pass) instead of every client and worker.
// If the thread cannot run, SQLite's own checkpoints are turned back on: slower, never unbounded.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { Db } from './db.js';
import type { Log } from '../common/verbosity.js';

/**
 * How often the thread checkpoints: the WAL holds at most what the master writes in this
 * time (an add of a million jobs writes some 40 MB a second). A checkpoint with nothing to
 * copy costs next to nothing.
 */
export const CHECKPOINT_EVERY_MS = 250;
/** Frames in the WAL (about 4 KB each) past which the master catches up itself. */
export const CATCH_UP_FRAMES = 8192;
/**
 * Between passes while the WAL holds more than BUSY_FRAMES (a steady stream of big writes):
 * the less the master leaves behind, the less its catch-up copies. Below that, every
 * CHECKPOINT_EVERY_MS: a pass every 10 ms whatever the load cost 15% more CPU per job.
 */
const BUSY_EVERY_MS = 10;
const BUSY_FRAMES = 2048;
const AUTO_PAGES = 1000; // SQLite's own default, for the fall-back

/** The thread, as a script: it must load under the built code and under the tests' TypeScript alike. */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path, { fileMustExist: true });
let marks = [];
let copied = 0;
let timer = null;
const tick = () => {
  const [r] = db.pragma('wal_checkpoint(PASSIVE)');
  if (r.checkpointed !== copied || marks.length) parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed, marks });
  const busy = r.checkpointed !== copied && r.log > workerData.busyFrames;
  copied = r.checkpointed;
  marks = [];
  return busy;
};
const next = (ms) => {
  timer = setTimeout(() => {
    try {
      next(tick() ? workerData.busyMs : workerData.everyMs);
    } catch (e) {
      parentPort.postMessage({ error: String((e && e.message) || e) });
    }
  }, ms);
};
next(workerData.everyMs);
parentPort.on('message', (m) => {
  if (typeof m === 'number') return void marks.push(m);
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
`;

/** How the master holds back its big writes while the WAL is caught up (requestQueue.ts). */
export interface WritePause {
  pause(): void;
  resume(): void;
}

export interface CheckpointReport {
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
}

export class Checkpointer {
  private readonly thread: Worker;
  private stopped = false;
  private readonly waiting = new Map<number, (r: CheckpointReport | null) => void>();
  private marks = 0;
  private catchingUp = false;
  /** Times the master caught up itself (tests count them). */
  catchUps = 0;

  constructor(
    private readonly db: Db,
    path: string,
    private readonly log: Log,
    private readonly writes: WritePause = { pause: () => {}, resume: () => {} },
    everyMs = CHECKPOINT_EVERY_MS,
    private readonly catchUpFrames = CATCH_UP_FRAMES,
  ) {
    db.pragma('wal_autocheckpoint = 0');
    this.thread = new Worker(THREAD, {
      eval: true,
      workerData: { path, sqlite: createRequire(import.meta.url).resolve('better-sqlite3'), everyMs, busyMs: Math.min(everyMs, BUSY_EVERY_MS), busyFrames: BUSY_FRAMES },
    });
    this.thread.on('message', (m: { error?: string; marks?: number[] } & Partial<CheckpointReport>) => {
      if (m.error !== undefined) return this.fallBack(m.error);
      if ((m.log ?? 0) > this.catchUpFrames && !this.catchingUp && !this.stopped) void this.catchUp();
      for (const id of m.marks ?? []) {
        this.waiting.get(id)?.({ log: m.log ?? 0, checkpointed: m.checkpointed ?? 0 });
        this.waiting.delete(id);
      }
      if (this.waiting.size === 0) this.thread.unref();
    });
    this.thread.on('error', (e) => this.fallBack(e.message));
    this.thread.on('exit', () => this.fallBack('the thread ended'));
    // After the listeners, which would hold the process again: a master that failed to
    // start (its port taken) must still exit.
    this.thread.unref();
  }

  /**
   * With the adds held back, one more pass of the thread, then the master's own checkpoint of
   * what was written during it (a few small commits), so that its next commit starts the WAL again.
   */
  private async catchUp(): Promise<void> {
    this.catchingUp = true;
    this.writes.pause();
    try {
      await this.next();
      if (this.db.open) this.db.pragma('wal_checkpoint(PASSIVE)');
      this.catchUps++;
    } catch (e) {
      this.log.warn(`Checkpoint failed: ${(e as Error).message}`);
    } finally {
      this.catchingUp = false;
      this.writes.resume();
    }
  }

  /**
   * The next checkpoint that begins after this call (tests wait on it rather than on time);
   * null once the thread has stopped.
   */
  next(): Promise<CheckpointReport | null> {
    if (this.stopped) return Promise.resolve(null);
    const id = ++this.marks;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.thread.ref(); // someone waits on it: the process stays up until it answers
      this.thread.postMessage(id);
    });
  }

  private fallBack(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const resolve of this.waiting.values()) resolve(null);
    this.waiting.clear();
    this.log.warn(`Checkpoints off the event loop stopped (${why}); SQLite makes them itself again`);
    void this.thread.terminate();
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_PAGES}`);
  }

  /** Stops the thread (before the master's last checkpoint and close). */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise<void>((r) => this.thread.once('exit', () => r()));
    this.thread.postMessage('stop');
    const timer = setTimeout(() => void this.thread.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
}
