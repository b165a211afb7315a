// What a job writes costs what it will write: a sparse file counts at its size, a name that is
// not UTF-8 counts as any other, the master's disk is bounded per job (-maxOutput), and a log
// of holes costs what -logLimit keeps.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../helpers/q.js';

t.test('a sparse output larger than -disk is never copied and the job says so; a name that is not UTF-8 counts toward -disk', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w', ['-slots', '3']);
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  const quick = c.add(['-disk', '10m', '-outPath', 'out', '-outFiles', 'full:*', '-add', 'truncate -s 2G out/sparse'], { cwd: exp });
  const slow = c.add(['-disk', '10m', '-outPath', 'out2', '-outFiles', 'full:*', '-add', 'truncate -s 2G out2/sparse; sleep 20'], { cwd: exp });
  const named = c.add(['-disk', '10m', '-outPath', 'out3', '-add', 'head -c 30m /dev/zero > "out3/$(printf \'\\377\')"; sleep 20'], { cwd: exp });
  const q = await c.waitForStatus(quick, ['done', 'failed'], 20_000);
  t.equal(q.status, 'failed');
  t.match(q.exitReason, /^Outputs not delivered: sparse is 2048m, more than the job's -disk 10m/);
  t.notOk(existsSync(join(exp, 'out', 'sparse')), 'nothing of it on the master');
  const s = await c.waitForStatus(slow, ['done', 'failed'], 20_000);
  t.equal(s.status, 'failed');
  t.match(s.exitReason, /^Disk limit exceeded: outPath holds 2048m, limit 10m/, 'counted at its size while it ran');
  const n = await c.waitForStatus(named, ['done', 'failed'], 20_000);
  t.equal(n.status, 'failed');
  t.match(n.exitReason, /^Disk limit exceeded: outPath holds 3\dm, limit 10m/, 'the file named \\377 counted');
});

t.test("-maxOutput bounds what one job's outputs take on the master", async (t) => {
  const c = new Cluster(t);
  await c.startMaster(['-maxOutput', '5m']);
  await c.startWorker('w');
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  const h = c.add(['-outPath', 'out', '-outFiles', 'full:*', '-add', 'head -c 3m /dev/zero > out/a; head -c 3m /dev/zero > out/b'], { cwd: exp });
  const r = await c.waitForStatus(h, ['done', 'failed'], 20_000);
  t.equal(r.status, 'failed');
  t.equal(r.exitCode, '0', 'the command itself succeeded');
  t.match(r.exitReason, /^Outputs not delivered: \w: over -maxOutput 5m/);
  const fits = c.add(['-outPath', 'out3', '-outFiles', 'full:*', '-add', 'head -c 3m /dev/zero > out3/a; echo again > out3/a'], { cwd: exp });
  t.equal((await c.waitForStatus(fits, ['done', 'failed'], 20_000)).status, 'done', 'a file sent again counts once');
});

t.test('a log of a terabyte of holes costs what -logLimit keeps', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w');
  const h = c.add(['-logLimit', '2m', '-add', 'echo start; truncate -s 1T /proc/self/fd/1; echo end']);
  const r = await c.waitForStatus(h, ['done', 'failed'], 30_000);
  t.equal(r.status, 'done', r.exitReason);
  const log = c.q(['-log', h]).stdout;
  t.ok(log.startsWith('start\n'), 'the head');
  t.ok(log.endsWith('end\n'), 'the tail');
  t.ok(log.length < 3 * 1024 * 1024, `what -logLimit keeps, not more (${log.length} bytes)`);
  t.match(c.q(['-info', h]).stdout, /10995\d+ bytes \(1024g?\S*\) of output dropped from the middle|1099\d+ bytes .* dropped/);
});

t.test('every path q accepts it delivers: a 250-byte name arrives; a path longer than q carries fails the job saying so', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w', ['-slots', '2']);
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  // (rm, not rmSync: a tree deeper than PATH_MAX is removed by descriptors)
  t.teardown(() => void spawnSync('rm', ['-rf', join(exp, 'out2'), join(c.dir, 'scratch-w')]));
  const long = 'n'.repeat(250);
  const named = c.add(['-outPath', 'out', '-outFiles', 'full:*', '-add', `echo long > out/${long}`], { cwd: exp });
  const deep = c.add(['-outPath', 'out2', '-outFiles', 'full:*', '-add',
    "cd out2; for i in $(seq 22); do n=$(printf 'd%.0s' $(seq 200)); mkdir $n; cd $n; done; echo deep > f"], { cwd: exp });
  t.equal((await c.waitForStatus(named, ['done', 'failed'], 20_000)).status, 'done');
  t.ok(existsSync(join(exp, 'out', long)), 'the long name arrived (its part file had a short name)');
  const d = await c.waitForStatus(deep, ['done', 'failed'], 20_000);
  t.equal(d.status, 'failed', 'not done 0 with the file missing');
  t.match(d.exitReason, /^Outputs not delivered: d{60}…: a path of 4\d{3} characters inside the outPath, longer than q carries \(4096\)/);
});
