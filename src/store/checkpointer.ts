// WAL checkpoints on a thread of their own, so that the master's event loop never waits for them.
//
// Why: SQLite checkpoints by itself inside the commit that fills the WAL past 1,000 pages:
// that commit copies the WAL into the database file and fsyncs it, and on a table of a
// million jobs it held the master 100-700 ms (an add of 500 jobs that usually takes 20 ms).
// WAL mode lets another connection checkpoint while this one reads and writes, so the
// master's connection stops checkpointing (wal_autocheckpoint = 0) and a worker thread with
// its own connection runs a PASSIVE checkpoint every CHECKPOINT_EVERY_MS.
// PASSIVE never takes the writer's lock, so it never makes the master wait.
//
// Starting the WAL again. The WAL goes back to its start (cut back to journal_size_limit,
// db.ts) only at a commit that finds every frame already copied, and that commit fsyncs the
// new WAL header first (SQLite must: a header reaching the disk after the frames behind it
// could bring back frames already copied). Made by the master's connection, that fsync held
// its event loop: usually under 5 ms, but 33 ms, 83 ms, 247 ms and 1.1 s on this machine's
// disk. So the thread makes that commit, a one-row write to meta, while the master's writes
// wait at its write gate (master/writeGate.ts) and its reads go on: when a pass finds the
// WAL all copied, the thread reports it, the master pauses its writes, the thread copies
// what came meanwhile, commits, and the master's writes go on. Between restarts the thread
// does not copy its own commit alone (nobody else wrote since: data_version), so that the
// WAL is never left all copied for the master's next commit to start again itself.
//
// Catching up. Under a steady stream of writes a pass never ends with the WAL all copied:
// each ends behind the writes made meanwhile, and the WAL grew to 4.5 GB while a million jobs
// were added. So when the thread reports a WAL past CATCH_UP_FRAMES, the big writes (adds)
// pause, the thread makes one more pass, and then starts the WAL again as above. Without
// the pause, the last copy was of everything written during a long pass (10-250 ms on a
// table of a million jobs); with it, an add waits for one pass and the rest for a short one.
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
/** Frames in the WAL (about 4 KB each) past which the adds pause for the thread to catch up. */
export const CATCH_UP_FRAMES = 8192;
/**
 * Between passes while the WAL holds more than BUSY_FRAMES (a steady stream of big writes):
 * the less is left behind, the shorter the copy while the master's writes wait. Below that,
 * every CHECKPOINT_EVERY_MS: a pass every 10 ms whatever the load cost 15% more CPU per job.
 */
const BUSY_EVERY_MS = 10;
const BUSY_FRAMES = 2048;
const AUTO_PAGES = 1000; // SQLite's own default, for the fall-back
/**
 * A thread that has not started the WAL again after this long is taken for stuck: it is
 * ended and the master's writes go on (SQLite checkpoints by itself again).
 */
const RESTART_TIMEOUT_MS = 15_000;

/** The thread, as a script: it must load under the built code and under the tests' TypeScript alike. */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path, { fileMustExist: true });
// Its commit syncs the new WAL header and cuts the file back as the master's would have.
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('journal_size_limit = ' + workerData.walSizeLimit);
db.pragma('busy_timeout = 5000');
const mark = db.prepare("INSERT INTO meta (key, value) VALUES ('wal_restarts', '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1");
const hold = () => workerData.holdMs && Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
const commit = db.transaction(() => { mark.run(); hold(); });
const othersWrote = (() => {
  let seen = null; // the first pass copies what came before the thread started
  return () => {
    db.pragma('schema_version'); // a read, which brings data_version up to date
    const v = db.pragma('data_version', { simple: true });
    const changed = v !== seen;
    seen = v;
    return changed;
  };
})();
let marks = [];
let copied = 0;
let timer = null;
let last = { log: 0, checkpointed: 0 };
const tick = () => {
  // Its own restart commit alone is left in the WAL, not copied: see checkpointer.ts.
  const r = othersWrote() ? db.pragma('wal_checkpoint(PASSIVE)')[0] : last;
  last = r;
  const full = r.busy === 0 && r.log > 0 && r.checkpointed === r.log;
  if (r.checkpointed !== copied || marks.length || full) parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed, full, marks });
  const busy = r.checkpointed !== copied && r.log > workerData.busyFrames;
  copied = r.checkpointed;
  marks = [];
  return busy;
};
// Asked while the master's writes wait: copy what came since the last pass, and if that is
// all of it, commit, which starts the WAL again. The WAL header's checkpoint sequence number
// (bytes 12-15, sqlite.org/fileformat2.html) tells whether it did: a reader in the WAL keeps it.
const walSeq = () => {
  const b = Buffer.alloc(16);
  const fd = fs.openSync(workerData.path + '-wal', 'r');
  try {
    return fs.readSync(fd, b, 0, 16, 0) === 16 ? b.readUInt32BE(12) : -1;
  } finally {
    fs.closeSync(fd);
  }
};
const restart = () => {
  const [r] = db.pragma('wal_checkpoint(PASSIVE)');
  if (r.busy !== 0 || r.log === 0 || r.checkpointed !== r.log) return false;
  const before = walSeq();
  commit();
  othersWrote();
  if (walSeq() === before) return false;
  last = { log: 0, checkpointed: 0 };
  copied = 0;
  return true;
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
  if (m === 'restart') {
    try {
      return void parentPort.postMessage({ restarted: restart() });
    } catch (e) {
      return void parentPort.postMessage({ error: String((e && e.message) || e) });
    }
  }
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
`;
/** Something the master can hold back and let go again. */
export interface Pause {
  pause(): void;
  resume(): void;
}

/**
 * How the master holds back its writes: `adds` while the WAL is caught up
 * (master/requestQueue.ts), `all` while the thread starts it again (master/writeGate.ts).
 */
export interface WritePauses {
  adds: Pause;
  all: Pause;
}

const NO_PAUSE: Pause = { pause: () => {}, resume: () => {} };

export interface CheckpointerOptions {
  everyMs?: number;
  catchUpFrames?: number;
  /** Tests: the thread's restart commit holds the write lock this long, as a slow fsync would. */
  restartHoldMs?: number;
}

export interface CheckpointReport {
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
}

type ThreadMessage = { error?: string; marks?: number[]; full?: boolean; restarted?: boolean } & Partial<CheckpointReport>;

export class Checkpointer {
  private readonly thread: Worker;
  private stopped = false;
  private readonly waiting = new Map<number, (r: CheckpointReport | null) => void>();
  private marks = 0;
  private catchingUp = false;
  private readonly catchUpFrames: number;
  /** The restart asked of the thread, while the master's writes wait for it. */
  private restarting: { done: Promise<boolean>; resolve: (restarted: boolean) => void; timer: NodeJS.Timeout } | null = null;
  /** Times the adds paused for the WAL to be caught up, and times the thread started it again (tests count them). */
  catchUps = 0;
  restarts = 0;

  constructor(
    private readonly db: Db,
    path: string,
    private readonly log: Log,
    private readonly writes: WritePauses = { adds: NO_PAUSE, all: NO_PAUSE },
    opts: CheckpointerOptions = {},
  ) {
    const everyMs = opts.everyMs ?? CHECKPOINT_EVERY_MS;
    this.catchUpFrames = opts.catchUpFrames ?? CATCH_UP_FRAMES;
    db.pragma('wal_autocheckpoint = 0');
    this.thread = new Worker(THREAD, {
      eval: true,
      workerData: {
        path,
        sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
        everyMs,
        busyMs: Math.min(everyMs, BUSY_EVERY_MS),
        busyFrames: BUSY_FRAMES,
        synchronous: db.pragma('synchronous', { simple: true }),
        walSizeLimit: db.pragma('journal_size_limit', { simple: true }),
        holdMs: opts.restartHoldMs ?? 0,
      },
    });
    this.thread.on('message', (m: ThreadMessage) => this.heard(m));
    this.thread.on('error', (e) => this.fallBack(e.message));
    this.thread.on('exit', () => this.fallBack('the thread ended'));
    // After the listeners, which would hold the process again: a master that failed to
    // start (its port taken) must still exit.
    this.thread.unref();
  }

  private heard(m: ThreadMessage): void {
    if (m.error !== undefined) return this.fallBack(m.error);
    if (m.restarted !== undefined) return this.restarted(m.restarted);
    if (!this.stopped) {
      if ((m.log ?? 0) > this.catchUpFrames && !this.catchingUp) void this.catchUp();
      else if (m.full && !this.catchingUp) void this.restart();
    }
    for (const id of m.marks ?? []) {
      this.waiting.get(id)?.({ log: m.log ?? 0, checkpointed: m.checkpointed ?? 0 });
      this.waiting.delete(id);
    }
    this.unrefIfIdle();
  }

  private unrefIfIdle(): void {
    if (this.waiting.size === 0 && !this.restarting) this.thread.unref();
  }

  /** With the adds held back, one more pass of the thread, then the restart. */
  private async catchUp(): Promise<void> {
    this.catchingUp = true;
    this.writes.adds.pause();
    try {
      await this.next();
      await this.restart();
      this.catchUps++;
    } finally {
      this.catchingUp = false;
      this.writes.adds.resume();
    }
  }

  /** Every write of the master waits while the thread copies what is left and starts the WAL again. */
  private restart(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (this.restarting) return this.restarting.done;
    let resolve!: (restarted: boolean) => void;
    const done = new Promise<boolean>((r) => (resolve = r));
    const timer = setTimeout(() => this.fallBack(`no restart of the WAL in ${RESTART_TIMEOUT_MS / 1000} s`), RESTART_TIMEOUT_MS);
    timer.unref();
    this.restarting = { done, resolve, timer };
    this.writes.all.pause();
    this.thread.ref();
    this.thread.postMessage('restart');
    return done;
  }

  private restarted(restarted: boolean): void {
    const r = this.restarting;
    if (!r) return;
    this.restarting = null;
    clearTimeout(r.timer);
    if (restarted) this.restarts++;
    this.writes.all.resume();
    r.resolve(restarted);
    this.unrefIfIdle();
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
    this.release();
    this.log.warn(`Checkpoints off the event loop stopped (${why}); SQLite makes them itself again`);
    void this.thread.terminate();
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_PAGES}`);
  }

  /** Whoever waits on the thread is answered, and the writes go on. */
  private release(): void {
    for (const resolve of this.waiting.values()) resolve(null);
    this.waiting.clear();
    this.restarted(false);
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
    this.release();
  }
}
