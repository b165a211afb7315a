// The database stays healthy under load: the WAL file is bounded (cut back after the
// checkpoints SQLite makes by itself, or the master's checkpoint thread makes), and
// -saveState's checkpoint empties it.
import t from 'tap';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { Checkpointer } from '../../src/store/checkpointer.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';
import { normalLog } from '../../src/common/verbosity.js';

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
  const checkpoints = new Checkpointer(db, path, normalLog((l) => logged.push(l)), undefined, 20);
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
  const checkpoints = new Checkpointer(db, join(dir, 'missing.db'), normalLog((l) => logged.push(l)), undefined, 20);
  t.teardown(() => checkpoints.close());
  for (let i = 0; i < 500 && logged.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.match(logged, [/Checkpoints off the event loop stopped/], 'one line in the log');
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'SQLite checkpoints by itself again');
});

t.test('past the catch-up mark, adds pause for one pass of the thread; the master then copies only what came meanwhile', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const db = openDb(path, { walSizeLimit: 1024 * 1024 });
  const jobs = new JobStore(db);
  const calls: string[] = [];
  const writes = { pause: () => calls.push('pause'), resume: () => calls.push('resume') };
  const checkpoints = new Checkpointer(db, path, normalLog(() => {}), writes, 20, 64);
  t.teardown(() => checkpoints.close());
  const spec = makeJobSpec({ command: 'echo a fairly long command line to fill pages', workingPath: '/tmp' });
  jobs.insert(Array.from({ length: 30_000 }, () => spec), 0);
  // Waiting on passes keeps the (unref'd) thread answering.
  for (let i = 0; i < 100 && calls.length < 2; i++) await checkpoints.next();
  t.same(calls, ['pause', 'resume'], 'paused once, resumed once');
  t.equal(checkpoints.catchUps, 1);
  jobs.insert([spec], 0);
  t.ok(walSize(path) <= 1024 * 1024, `the next commit started the WAL again (${walSize(path)} bytes)`);
});
