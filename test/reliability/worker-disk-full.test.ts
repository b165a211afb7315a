// A worker whose scratch disk fills: the job that filled it says so (it does not end done
// with its output lost), and the worker takes no new job until there is room again, saying
// why in -w.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

t.test('a full scratch disk: the filling job fails with the reason, the worker takes nothing more until there is room', async (t) => {
  const disk = mkdtempSync(join(tmpdir(), 'q-scratch-full-'));
  const c = new Cluster(t);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', disk]);
  if (mounted.status !== 0) {
    process.stderr.write(`\n!!!!! SKIPPING WORKER DISK-FULL TEST: cannot mount a tmpfs (${mounted.stderr.toString().trim()}) !!!!!\n\n`);
    if (process.env.CI === 'true') t.fail('CI runs as root: the tmpfs must mount');
    else t.skip('needs root to mount a small tmpfs', () => {});
    return;
  }
  t.teardown(async () => {
    for (const w of c.workers) await w.stop('SIGKILL');
    spawnSync('umount', ['-l', disk]);
    rmSync(disk, { recursive: true, force: true });
  });
  await c.startMaster();
  const w = c.spawnQ(['-mode', 'worker', '-masterPort', String(c.port), '-handle', 'small', '-basePath', disk, '-sleepInterval', '1', '-minFreeDisk', '8m']);
  c.workers.push(w);
  await waitFor('the worker', async () => (await c.ask((k) => k.request({ type: 'workers' }, 'workerList')))?.workers.some((v) => v.connected));
  const filler = c.add(['-add', 'head -c 40000000 /dev/zero > big; echo after']);
  const r = await c.waitForStatus(filler, ['done', 'failed'], 20_000);
  t.equal(r.status, 'failed');
  t.match(r.exitReason, /^The worker's disk was full when it ended \(0m free under .*\): its output may be incomplete$/);
  await waitFor('-w says the disk is full', () => /^small\t[^\t]*\t[^\t]*\tdiskFull\t/m.test(c.q(['-w', '-tabs']).stdout), 10_000, 200);
  const next = c.add(['-add', 'echo fits']);
  await new Promise((res) => setTimeout(res, 2500));
  t.equal(c.row(next)?.status, 'ready', 'not sent to a full worker');
  rmSync(join(disk, 'mirror', c.dir, 'big'));
  t.equal((await c.waitForStatus(next, ['done', 'failed'], 15_000)).status, 'done', 'taken once there is room');
  t.equal(c.q(['-log', next]).stdout, 'fits\n');
});
