// -log streams a log of any size in pieces, with client and master memory bounded, and
// -head / -tail cut it on the master's side.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_Q, Cluster } from '../helpers/q.js';

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : -1;
}

t.test('-log streams any size with bounded memory; -head and -tail', async (t) => {
  const c = new Cluster(t, t.testdir());
  const master = await c.startMaster();
  await c.startWorker('w');
  const h = c.add(['-add', 'seq 1 100000']);
  t.equal((await c.waitForStatus(h, ['done', 'failed'])).status, 'done');
  t.equal(c.q(['-log', h]).stdout.split('\n').length, 100001, 'whole');
  t.equal(c.q(['-log', h, '-tail', '3']).stdout, '99998\n99999\n100000\n');
  t.equal(c.q(['-log', h, '-head', '2']).stdout, '1\n2\n');
  t.match(c.q(['-log', h, '-tail', '0']).stderr, /^q: -tail takes a number of lines/);
  // A 400 MB log (written in place: a job would take minutes to stream that much here).
  const SIZE = 400 * 1024 * 1024;
  const fd = openSync(join(c.state, 'logs', `${h}.log`), 'w');
  const line = Buffer.alloc(1024 * 1024, 'x');
  line[line.length - 1] = 10;
  for (let i = 0; i < SIZE / line.length; i++) writeSync(fd, line);
  ftruncateSync(fd, SIZE);
  closeSync(fd);
  const before = peakRssMb(master.pid);
  // (env -u: tap injects its loaders into every child it sees spawned)
  const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', '/usr/bin/time', '-f', '%M', 'sh', '-c', `"${process.execPath}" "${BIN_Q}" -masterPort ${c.port} -log ${h} | wc -c`], {
    env: c.env, encoding: 'utf8', timeout: 120_000,
  });
  const [count, clientKb] = r.stdout.trim().split('\n').concat(r.stderr.trim().split('\n').slice(-1));
  t.equal(Number(count), SIZE, `every byte arrived (${r.stdout} ${r.stderr})`);
  const master_ = peakRssMb(master.pid);
  t.ok(master_ - before < 200, `the master's peak RSS grew by ${Math.round(master_ - before)} MB for a ${SIZE / 1048576} MB log`);
  t.ok(Number(clientKb) / 1024 < 300, `the client's peak RSS was ${Math.round(Number(clientKb) / 1024)} MB`);
  t.equal(c.q(['-log', h, '-tail', '1']).stdout, `${'x'.repeat(1024 * 1024 - 1)}\n`, '-tail reads from the end');
});
