// A locked database and a full disk: the master tells the caller, keeps serving, and writes
// nothing by halves.
import t from 'tap';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, scratchDir } from '../helpers/q.js';

t.test('a database locked by another process: adds fail with a clear line, then work again', async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster();
  await c.startWorker('w1');
  const first = c.add(['-add', 'true']);
  const db = new Database(join(c.state, 'q.db'));
  t.teardown(() => db.close());
  db.exec('BEGIN EXCLUSIVE'); // e.g. a backup tool holding the write lock
  const refused = c.q(['-add', 'echo locked out']);
  t.equal(refused.code, 2);
  t.match(refused.stderr, /^q: .*database is locked/m, 'one line saying why');
  const list = c.q(['-list', '-tabs']);
  t.equal(list.code, 0, 'reads go on: ' + list.stderr);
  t.equal(list.stdout.split('\n').filter(Boolean).length, 1, 'the refused add left nothing');
  db.exec('COMMIT');
  const later = c.add(['-add', 'echo back']);
  t.equal((await c.waitForStatus(later, ['done', 'failed'])).status, 'done', 'it works again');
  t.equal((await c.waitForStatus(first, ['done', 'failed'])).status, 'done');
  t.ok(master.alive);
});

t.test('a full disk under the state directory: adds fail, nothing half-written, then work again', async (t) => {
  // The small disk is mounted outside the test's directory, so that removing that directory
  // never meets a mount point; the master's state goes there.
  const disk = mkdtempSync(join(tmpdir(), 'q-full-'));
  const c = new Cluster(t, scratchDir(t), { state: disk });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]);
  if (mounted.status !== 0) {
    process.stderr.write(`\n!!!!! SKIPPING DISK-FULL TEST: cannot mount a tmpfs (${mounted.stderr.toString().trim()}) !!!!!\n\n`);
    t.skip('needs root to mount a small tmpfs', () => {});
    return;
  }
  t.teardown(async () => {
    await c.master?.stop('SIGKILL');
    spawnSync('umount', ['-l', disk]);
    rmSync(disk, { recursive: true, force: true });
  });
  const master = await c.startMaster();
  const kept = c.add(['-workerHandle', 'nobody', '-add', 'true']);
  // Fill the disk to a few KB short of full.
  const filler = join(c.state, 'filler');
  const free = () => statfsSync(c.state).bavail * statfsSync(c.state).bsize;
  writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 16 * 1024)));
  const big = Array.from({ length: 300 }, (_, i) => `echo ${'x'.repeat(2000)} ${i}`).join('\n');
  const refused = c.q(['-workerHandle', 'nobody', '-add', '-'], { input: big });
  t.not(refused.code, 0);
  t.match(refused.stderr, /^q: .*(full|space)/m, 'one line saying why');
  t.equal(refused.stdout, '', 'no job of the batch was acknowledged');
  const list = c.q(['-list', '-tabs']);
  t.equal(list.code, 0, 'the master still answers');
  t.same(list.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]), [kept], 'the batch left nothing behind');
  rmSync(filler);
  const after = c.q(['-workerHandle', 'nobody', '-add', '-'], { input: big });
  t.equal(after.code, 0, after.stderr);
  t.equal((after.stdout.match(/added successfully/g) ?? []).length, 300, 'with room again, the same batch goes in');
  t.ok(master.alive);
});
