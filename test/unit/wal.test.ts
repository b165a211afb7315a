// The database stays healthy under load: the WAL file is bounded (cut back after the
// checkpoints SQLite makes by itself, or the master's checkpoint thread makes), and
// -saveState's checkpoint empties it.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { Checkpointer } from '../../src/store/checkpointer.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';
import { normalLog } from '../../src/common/verbosity.js';
import { WriteGate } from '../../src/master/writeGate.js';
import { waitFor } from '../helpers/q.js';

const walSize = (path: string) => statSync(`${path}-wal`).size;

t.test('a big add grows the WAL; the load after it brings it back under the limit', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const LIMIT = 1024 * 1024;
  const jobs = new JobStore(openDb(path, { walSizeLimit: LIMIT }));
  const spec = makeJobSpec({ command: 'echo a fairly long command line to fill pages', workingPath: '/tmp' });
  jobs.insert(Array.from({ length: 30_000 }, () => spec), 0);
  const after = walSize(path);
  t.ok(after > 4 * LIMIT, `one big transaction: the WAL holds it (${after} bytes)`);
  // Constant load: small writes, each its own commit, as a busy master makes them.
  const handles = jobs.insert(Array.from({ length: 2000 }, () => spec), 0);
  for (let round = 0; round < 3; round++) for (const h of handles) jobs.setLogDropped(h, round);
  t.ok(walSize(path) <= 2 * LIMIT, `under load the WAL stays bounded (${walSize(path)} bytes)`);
  jobs.checkpoint();
  t.equal(walSize(path), 0, '-saveState: folded in and emptied');
});

t.test('the checkpoint thread: the master never checkpoints, and the WAL is still cut back', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const LIMIT = 1024 * 1024;
  const db = openDb(path, { walSizeLimit: LIMIT });
  const jobs = new JobStore(db);
  const logged: string[] = [];
  const checkpoints = new Checkpointer(db, path, normalLog((l) => logged.push(l)), undefined, { everyMs: 20, catchUpFrames: 1024 });
  t.teardown(() => checkpoints.close());
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, "the master's connection leaves them to the thread");
  const spec = makeJobSpec({ command: 'echo a fairly long command line to fill pages', workingPath: '/tmp' });
  jobs.insert(Array.from({ length: 30_000 }, () => spec), 0);
  t.ok(walSize(path) > 4 * LIMIT, 'one big transaction: the WAL holds it');
  for (let i = 0; i < 100 && checkpoints.restarts < 1; i++) await checkpoints.next();
  t.equal(checkpoints.restarts, 1, 'past the catch-up mark the thread copied it and started it again');
  t.ok(walSize(path) <= LIMIT, `cut back (${walSize(path)} bytes)`);
  const handles = jobs.insert(Array.from({ length: 100 }, () => spec), 0);
  for (let round = 0; round < 200; round++) {
    for (const h of handles) jobs.setLogDropped(h, round + 1);
    if (round % 10 === 0) await checkpoints.next();
  }
  for (let i = 0; i < 100 && checkpoints.catchUps < 2; i++) await checkpoints.next();
  t.ok(checkpoints.restarts >= 2, `it keeps up under load (${checkpoints.restarts} restarts)`);
  t.ok(walSize(path) <= LIMIT + 2048 * 4096, `still bounded (${walSize(path)} bytes)`);
  t.same(logged, [], 'no fall-back');
  t.equal(jobs.get(handles[0]!)?.logDropped, 200, 'what was written is read back');
});

t.test('a checkpoint thread that cannot run hands checkpoints back to SQLite, and says so', async (t) => {
  const dir = t.testdir();
  const db = openDb(join(dir, 'q.db'));
  const logged: string[] = [];
  const checkpoints = new Checkpointer(db, join(dir, 'missing.db'), normalLog((l) => logged.push(l)), undefined, { everyMs: 20 });
  t.teardown(() => checkpoints.close());
  for (let i = 0; i < 500 && logged.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.match(logged, [/Checkpoints off the event loop stopped/], 'one line in the log');
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'SQLite checkpoints by itself again');
});

/** What the master's pauses were asked, in order. */
function pauses() {
  const calls: string[] = [];
  const pause = (name: string) => ({ pause: () => calls.push(`${name} pause`), resume: () => calls.push(`${name} resume`) });
  return { calls, writes: { adds: pause('adds'), all: pause('all') } };
}

/** The WAL header's checkpoint sequence number: it changes each time the WAL starts again. */
function walSeq(path: string): number {
  const b = readFileSync(`${path}-wal`).subarray(0, 16);
  return b.length === 16 ? b.readUInt32BE(12) : -1;
}

t.test('past the catch-up mark, adds pause for one pass; the thread then starts the WAL again while every write waits', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const db = openDb(path, { walSizeLimit: 1024 * 1024 });
  const jobs = new JobStore(db);
  const { calls, writes } = pauses();
  const checkpoints = new Checkpointer(db, path, normalLog(() => {}), writes, { everyMs: 20, catchUpFrames: 64 });
  t.teardown(() => checkpoints.close());
  const spec = makeJobSpec({ command: 'echo a fairly long command line to fill pages', workingPath: '/tmp' });
  const seq = walSeq(path);
  jobs.insert(Array.from({ length: 30_000 }, () => spec), 0);
  // Waiting on passes keeps the (unref'd) thread answering.
  for (let i = 0; i < 100 && calls.length < 4; i++) await checkpoints.next();
  t.same(calls, ['adds pause', 'all pause', 'all resume', 'adds resume'], 'adds paused for the catch-up, every write for the restart');
  t.equal(checkpoints.catchUps, 1);
  t.equal(checkpoints.restarts, 1);
  t.not(walSeq(path), seq, 'the thread started the WAL again');
  t.ok(walSize(path) <= 1024 * 1024, `and cut it back (${walSize(path)} bytes)`);
  const before = walSeq(path);
  jobs.insert([spec], 0);
  t.equal(walSeq(path), before, "the master's next commit did not start it again: it had nothing to sync");
  t.equal(jobs.count(), 30_001);
});

t.test("the master's commits never start the WAL again, even with every frame copied: only the thread does", async (t) => {
  const path = join(t.testdir(), 'q.db');
  const db = openDb(path);
  const jobs = new JobStore(db);
  const { calls, writes } = pauses();
  const checkpoints = new Checkpointer(db, path, normalLog(() => {}), writes, { everyMs: 20 });
  t.teardown(() => checkpoints.close());
  const [h] = jobs.insert([makeJobSpec({ command: 'echo small', workingPath: '/tmp' })], 0);
  const seq = walSeq(path);
  for (let round = 0; round < 5; round++) {
    const r = await checkpoints.next();
    t.ok(r && r.checkpointed > 0, `a pass copied what came (${r?.checkpointed} frames)`);
    jobs.setLogDropped(h!, round + 1); // a new value: SQLite writes no page that stays the same
    t.equal(walSeq(path), seq, `commit ${round} after it appended to the WAL: the master synced no header`);
  }
  t.equal(checkpoints.restarts, 0, 'far under the catch-up mark, the thread left it too');
  t.same(calls, [], 'and no write waited');
  t.equal(jobs.get(h!)?.logDropped, 5);
});

t.test('-saveState: the thread folds the WAL in and empties it while the writes wait', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const db = openDb(path);
  const jobs = new JobStore(db);
  const { calls, writes } = pauses();
  const checkpoints = new Checkpointer(db, path, normalLog(() => {}), writes, { everyMs: 20 });
  t.teardown(() => checkpoints.close());
  const spec = makeJobSpec({ command: 'echo a fairly long command line to fill pages', workingPath: '/tmp' });
  jobs.insert(Array.from({ length: 5000 }, () => spec), 0);
  await checkpoints.next();
  t.ok(walSize(path) > 1024 * 1024, 'a WAL of some size');
  t.equal(await checkpoints.fold(), true);
  t.ok(walSize(path) < 64 * 1024, `emptied: only the thread's own commit is left (${walSize(path)} bytes)`);
  t.same(calls, ['all pause', 'all resume']);
  const seq = walSeq(path);
  jobs.insert([spec], 0);
  t.equal(walSeq(path), seq, "the master's next commit appended");
  t.equal(jobs.count(), 5001);
});

t.test('while the thread holds the lock to start the WAL again, the event loop runs and the writes wait for it', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const db = openDb(path);
  const jobs = new JobStore(db);
  const gate = new WriteGate();
  const checkpoints = new Checkpointer(db, path, normalLog(() => {}), { adds: gate, all: gate }, { everyMs: 20, catchUpFrames: 64, restartHoldMs: 1500 });
  t.teardown(() => checkpoints.close());
  const spec = makeJobSpec({ command: 'echo a fairly long command line to fill pages', workingPath: '/tmp' });
  jobs.insert(Array.from({ length: 2000 }, () => spec), 0);
  await waitFor('the restart to begin', () => !gate.clear, 5000, 5);
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  t.teardown(() => clearInterval(ticker));
  const order: string[] = [];
  gate.run(() => order.push(`write, ${checkpoints.restarts} restarts`));
  order.push(`read: ${jobs.count()} jobs`);
  await waitFor('the restart to end', () => gate.clear, 10_000, 5);
  clearInterval(ticker);
  t.same(order, ['read: 2000 jobs', 'write, 1 restarts'], 'the read went at once, the write after the restart');
  t.ok(ticks > 0, `the event loop ran while the thread held the lock (${ticks} ticks)`);
});
