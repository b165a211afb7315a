// Each time the WAL starts again, the checkpoint thread holds SQLite's write lock through an
// fsync of the new header (store/checkpointer.ts), which a slow disk makes last a second.
// Here the hold is made long on purpose (Q_WAL_RESTART_HOLD_MS): the master's writes must
// wait for it at its write gate (master/writeGate.ts), not inside SQLite, where a write would
// hold the event loop and, past the busy timeout, fail with "database is locked".
import t from 'tap';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Cluster, cleanEnv, scratchDir } from '../helpers/q.js';

const JOBS = 30;

t.test('slow WAL restarts: every write waits for them and succeeds, and no worker is blamed', async (t) => {
  const dir = scratchDir(t);
  const state = join(dir, 'state');
  const c = new Cluster(t, dir, { env: cleanEnv({ Q_STATE: state, HOME: dir, Q_WAL_RESTART_HOLD_MS: '500' }) });
  const master = await c.startMaster(['-heartbeatTimeout', '3s']);
  await c.startWorker('w1', ['-slots', '4']);
  await c.startWorker('w2', ['-slots', '4']);
  const sleeper = c.add(['-add', 'sleep 60']);
  // Jobs that end at scattered times: most results arrive while the thread holds the lock.
  const added = c.q(['-n', String(JOBS), '-add', 'sleep 0.$(($$ % 7 + 1)); echo ran']);
  const handles = [...added.stdout.matchAll(/Job (J-[0-9a-z]{6}) added successfully/g)].map((m) => m[1]!);
  t.equal(handles.length, JOBS, `${JOBS} added`);
  await c.waitForStatus(sleeper, ['running'], 30_000);
  t.equal(c.q(['-kill', sleeper]).code, 0);
  for (const h of handles) {
    const row = await c.waitForStatus(h, ['done', 'failed'], 60_000);
    t.equal(row.status, 'done', `${h}: ${row.exitReason}`);
  }
  t.match((await c.waitForStatus(sleeper, ['failed'], 30_000)).exitReason, /^Killed/, 'the kill went through');
  t.equal(c.q(['-log', handles[0]!]).stdout, 'ran\n');
  await master.stop('SIGTERM');
  t.notMatch(master.out, /database is locked|failed:/, 'no write failed');
  t.notMatch(master.out, /not heard from/, 'no worker was declared lost');
  const db = new Database(join(state, 'q.db'), { readonly: true });
  t.teardown(() => db.close());
  const restarts = Number((db.prepare("SELECT value FROM meta WHERE key = 'wal_restarts'").get() as { value: string } | undefined)?.value ?? 0);
  t.ok(restarts >= 2, `the thread started the WAL again, each time holding the lock (${restarts} times)`);
});
