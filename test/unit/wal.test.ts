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
  const checkpoints = new Checkpointer(db, path, normalLog((l) => logged.push(l)), undefined, { everyMs: 20 });
  t.teardown(() => checkpoints.close());
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, "the master's connection leaves them to the thread");
  const spec = makeJobSpec({ command: 'echo a fairly long command line to fill pages', workingPath: '/tmp' });
  // The thread's next checkpoint copied the whole WAL into the database.
  const caughtUp = async () => {
    const r = await checkpoints.next();
    return r !== null && r.checkpointed === r.log;
  };
  jobs.insert(Array.from({ length: 30_000 }, () => spec), 0);
  t.ok(walSize(path) > 4 * LIMIT, 'one big transaction: the WAL holds it');
  t.ok(await caughtUp(), 'the thread copied it into the database');
  const handles = jobs.insert(Array.from({ length: 100 }, () => spec), 0);
  t.ok(walSize(path) <= LIMIT, `the next commit starts the WAL again, cut back (${walSize(path)} bytes)`);
  for (let round = 0; round < 20; round++) {
    for (const h of handles) jobs.setLogDropped(h, round);
    await new Promise((r) => setImmediate(r));
  }
  t.ok(await caughtUp(), 'it keeps up under load');
  jobs.setLogDropped(handles[0]!, 99);
  t.ok(walSize(path) <= LIMIT, `still bounded (${walSize(path)} bytes)`);
  t.same(logged, [], 'no fall-back');
  t.equal(jobs.get(handles[0]!)?.logDropped, 99, 'what was written is read back');
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
  // The schema's frames, all copied at the thread's first pass, start the WAL again first.
  for (let i = 0; i < 100 && checkpoints.restarts < 1; i++) await checkpoints.next();
  calls.length = 0;
  const seq = walSeq(path);
  jobs.insert(Array.from({ length: 30_000 }, () => spec), 0);
  // Waiting on passes keeps the (unref'd) thread answering.
  for (let i = 0; i < 100 && calls.length < 4; i++) await checkpoints.next();
  t.same(calls, ['adds pause', 'all pause', 'all resume', 'adds resume'], 'adds paused for the catch-up, every write for the restart');
  t.equal(checkpoints.catchUps, 1);
  t.equal(checkpoints.restarts, 2);
  t.not(walSeq(path), seq, 'the thread started the WAL again');
  t.ok(walSize(path) <= 1024 * 1024, `and cut it back (${walSize(path)} bytes)`);
  const before = walSeq(path);
  jobs.insert([spec], 0);
  t.equal(walSeq(path), before, "the master's next commit did not start it again: it had nothing to sync");
  t.equal(jobs.count(), 30_001);
});

t.test('a WAL all copied under light load is started again by the thread, not by the master; an idle one is left alone', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const db = openDb(path);
  const jobs = new JobStore(db);
  const { calls, writes } = pauses();
  const checkpoints = new Checkpointer(db, path, normalLog(() => {}), writes, { everyMs: 20 });
  t.teardown(() => checkpoints.close());
  const spec = makeJobSpec({ command: 'echo small', workingPath: '/tmp' });
  const [h] = jobs.insert([spec], 0);
  for (let i = 0; i < 100 && checkpoints.restarts < 1; i++) await checkpoints.next();
  t.equal(checkpoints.restarts, 1, 'one restart, by the thread');
  for (let round = 0; round < 5; round++) {
    const seq = walSeq(path);
    jobs.setLogDropped(h!, round + 1); // a new value: SQLite writes no page that stays the same
    t.equal(walSeq(path), seq, `a small commit (${round}) only appends: the master never syncs a header`);
    for (let i = 0; i < 100 && checkpoints.restarts < round + 2; i++) await checkpoints.next();
  }
  t.equal(checkpoints.restarts, 6, 'each all-copied WAL was started again by the thread');
  for (let i = 0; i < 10; i++) await checkpoints.next();
  t.equal(checkpoints.restarts, 6, 'idle: no restart of its own restart');
  t.equal(calls.filter((c) => c === 'all pause').length, 6);
  t.equal(jobs.get(h!)?.logDropped, 5);
});

t.test('while the thread holds the lock to start the WAL again, the event loop runs and the writes wait for it', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const db = openDb(path);
  const jobs = new JobStore(db);
  const gate = new WriteGate();
  const checkpoints = new Checkpointer(db, path, normalLog(() => {}), { adds: gate, all: gate }, { everyMs: 20, restartHoldMs: 1500 });
  t.teardown(() => checkpoints.close());
  const spec = makeJobSpec({ command: 'echo small', workingPath: '/tmp' });
  jobs.insert([spec], 0);
  await waitFor('the restart to begin', () => !gate.clear, 5000, 5);
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  t.teardown(() => clearInterval(ticker));
  const order: string[] = [];
  gate.run(() => order.push(`write, ${checkpoints.restarts} restarts`));
  order.push(`read: ${jobs.count()} job`);
  await waitFor('the restart to end', () => gate.clear, 10_000, 5);
  clearInterval(ticker);
  t.same(order, ['read: 1 job', 'write, 1 restarts'], 'the read went at once, the write after the restart');
  t.ok(ticks > 0, `the event loop ran while the thread held the lock (${ticks} ticks)`);
});
