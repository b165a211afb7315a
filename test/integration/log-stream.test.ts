// -log streams a log of any size in pieces, with client and master memory bounded, and
// -head / -tail cut it on the master's side.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_Q, Cluster, waitFor } from '../helpers/q.js';

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : -1;
}

t.test('-log streams any size with bounded memory; -head and -tail', async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster();
  await c.startWorker('w');
  const h = c.add(['-add', 'seq 1 100000']);
  t.equal((await c.waitForStatus(h, ['done', 'failed'])).status, 'done');
  t.equal(c.q(['-log', h]).stdout.split('\n').length, 100001, 'whole');
  t.equal(c.q(['-log', h, '-tail', '3']).stdout, '99998\n99999\n100000\n');
  t.equal(c.q(['-log', h, '-head', '2']).stdout, '1\n2\n');
  t.match(c.q(['-log', h, '-tail', '0']).stderr, /^q: -tail takes a number of lines/);
  // A 1 GB log (written in place: a job would take minutes to stream that much here).
  const SIZE = 1024 * 1024 * 1024;
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

t.test('-logLimit keeps the first and last halves, says what it dropped, and frees the worker’s copy', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w');
  const N = 10_000_000;
  const go = join(c.dir, 'go');
  const h = c.add(['-shareWorkingPath', '-logLimit', '1m', '-add', `seq 1 ${N}; while [ ! -e ${go} ]; do sleep 0.2; done`]);
  let all = '';
  for (let i = 1; i <= N; i++) all += `${i}\n`;
  const KB512 = 512 * 1024;
  const dropped = all.length - 2 * KB512;
  const note = `[q: ${dropped} bytes (${Math.round(dropped / 1048576)}m) of output dropped from the middle: -logLimit 1m keeps the first 512k and the last 512k]\n`;
  const head = all.slice(0, KB512);
  const expected = head + (head.endsWith('\n') ? '' : '\n') + note + all.slice(-KB512);

  // The worker frees the middle of its copy once it has sent it (the file keeps its size).
  const stdout = join(c.dir, 'scratch-w', '.q', 'jobs', h, 'stdout');
  const freed = await waitFor('the worker to free its copy', () => {
    try {
      const st = statSync(stdout);
      return st.size === all.length && st.size - st.blocks * 512 > 30 * 1048576 && st;
    } catch {
      return false;
    }
  }, 60_000, 200);
  t.ok(freed, `the worker's copy holds ${Math.round((freed).blocks / 2048)} MB of ${Math.round(all.length / 1048576)} MB`);
  await waitFor('the master to have it all', () => c.q(['-log', h, '-tail', '1']).stdout === `${N}\n`, 30_000, 200);
  t.equal(c.q(['-log', h]).stdout, expected, 'head, the note, tail: while it runs');
  const kept = readdirSync(join(c.state, 'logs')).filter((f) => f.startsWith(h)).reduce((n, f) => n + statSync(join(c.state, 'logs', f)).size, 0);
  t.ok(kept < 1.3 * 1048576, `the master keeps ${kept} bytes of it`);

  writeFileSync(go, '');
  t.equal((await c.waitForStatus(h, ['done', 'failed'], 30_000)).status, 'done');
  t.equal(c.q(['-log', h]).stdout, expected, 'and once it has ended');
  t.match(c.q(['-info', h]).stdout, new RegExp(`\\n  log: ${dropped} bytes \\(\\d+m\\) of output dropped from the middle: -logLimit 1m keeps the first 512k and the last 512k`));
  const [job] = JSON.parse(c.q(['-list', h, '-json']).stdout);
  t.equal(job.logDropped, dropped);
  t.equal(c.q(['-log', h, '-tail', '2']).stdout, `${N - 1}\n${N}\n`);

  const bad = c.q(['-logLimit', '0', '-add', 'true']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^q: bad -logLimit '0': must be at least 1 MB\n$/);
  t.match(c.q(['-logLimit', '2t', '-add', 'true']).stderr, /^q: logLimit may be at most 1t, not 2t\n$/);
});
