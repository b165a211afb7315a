import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Cluster, FIXTURES, waitFor } from '../helpers/q.js';

/** Pids of processes whose command line contains `pattern` (our own markers only). */
function pgrep(pattern: string): number[] {
  const r = spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((pid) => pid !== process.pid);
}

t.test('a kill waiting out its grace period never touches the next job of that slot', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-slots', '2', '-killGrace', '3']);
  const stubborn = c.add(['-time', '1s', '-add', 'sh', join(FIXTURES, 'ignore-term.sh')]);
  await c.waitForStatus(stubborn, ['running']);
  await new Promise((r) => setTimeout(r, 1500)); // the TERM has been sent and ignored
  const next = c.add(['-add', 'sleep 4; echo survived']);
  const row = await c.waitForStatus(stubborn, ['failed'], 15_000);
  t.equal(row.exitCode, '137');
  const nextRow = await c.waitForStatus(next, ['done', 'failed'], 15_000);
  t.equal(nextRow.status, 'done', `the next job was not killed: ${nextRow.exitReason}`);
  t.equal(c.q(['-log', next]).stdout, 'survived\n');
});

t.test("a job's background processes: kept while it runs, ended when it is over", async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  // Daemonised (double fork): it leaves the job's tree but stays the job's.
  const daemon = c.add(['-add', "sh -c 'sleep 4.321 &'; sleep 1.5; pgrep -f 'sleep 4.321' >/dev/null && echo alive"]);
  await c.waitForStatus(daemon, ['done', 'failed']);
  t.equal(c.q(['-log', daemon]).stdout, 'alive\n', 'not killed while its job ran');
  await waitFor('the daemon to be ended after its job', () => pgrep('sleep 4.321').length === 0, 3000);
  t.pass('ended after its job');
  // Left behind without wait.
  const careless = c.add(['-add', 'sleep 7.654 & echo started']);
  await c.waitForStatus(careless, ['done']);
  await waitFor('the leftover to be killed', () => pgrep('sleep 7.654').length === 0, 3000);
  t.pass('the leftover of a finished job was killed');
});

t.test('time limits longer than 24.8 days do not fire at once', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const h = c.add(['-time', '30d', '-add', 'sleep 1']);
  const row = await c.waitForStatus(h, ['done', 'failed']);
  t.equal(row.status, 'done', row.exitReason);
});

t.test('a stopped worker gives its jobs back to the queue', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const w1 = await c.startWorker('w1');
  const h = c.add(['-add', 'sleep 3; echo finished']);
  await c.waitForStatus(h, ['running']);
  await w1.stop('SIGTERM');
  const row = await c.waitForStatus(h, ['ready']);
  t.equal(row.exitCode, '', 'not failed');
  await c.master!.waitForOutput(new RegExp(`Requeued ${h}: w1 gave it back`));
  await c.startWorker('w2');
  const done = await c.waitForStatus(h, ['done'], 15_000);
  t.match(done.worker, /^w2 /);
  t.equal(c.q(['-log', h]).stdout, 'finished\n');
});

t.test('a kill is not undone by losing the worker', async (t) => {
  const c = new Cluster(t);
  await c.startMaster(['-heartbeatTimeout', '2s']);
  const w1 = await c.startWorker('w1');
  const h = c.add(['-add', 'sleep 30']);
  await c.waitForStatus(h, ['running']);
  process.kill(w1.pid, 'SIGSTOP'); // gets the kill request, cannot act on it
  t.teardown(() => {
    try {
      process.kill(w1.pid, 'SIGCONT');
    } catch {
      // gone
    }
  });
  t.equal(c.q(['-kill', h]).stdout, 'Requested workers to kill 1/1 jobs\n');
  const row = await c.waitForStatus(h, ['failed', 'ready'], 15_000);
  t.equal(row.status, 'failed', 'killed, not requeued');
  t.equal(row.exitCode, '137');
  t.match(row.exitReason, /^Killed by server request \(its worker was lost/);
  process.kill(w1.pid, 'SIGCONT');
});

t.test("a kill sends TERM once, so a job's own TERM handler can clean up", async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-killGrace', '5']);
  const h = c.add(['-add', "trap 'sleep 1; echo cleaned; exit 3' TERM; sleep 30 & wait"]);
  await c.waitForStatus(h, ['running']);
  await new Promise((r) => setTimeout(r, 300));
  c.q(['-kill', h]);
  const row = await c.waitForStatus(h, ['failed'], 15_000);
  t.equal(row.exitCode, '3', 'the handler finished and chose the exit code');
  t.equal(c.q(['-log', h]).stdout, 'cleaned\n');
});

t.test('a job over its limit while its worker stops is failed, not given back', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const w1 = await c.startWorker('w1', ['-killGrace', '3']);
  const h = c.add(['-time', '1s', '-add', 'sh', join(FIXTURES, 'ignore-term.sh')]);
  await c.waitForStatus(h, ['running']);
  await new Promise((r) => setTimeout(r, 1500)); // over its limit, in its grace period
  await w1.stop('SIGTERM');
  const row = await c.waitForStatus(h, ['failed', 'ready'], 15_000);
  t.equal(row.status, 'failed');
  t.match(row.exitReason, /^Time limit exceeded/);
});

t.test('a worker started without -handle keeps its name across restarts of that scratch base', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const base = join(c.dir, 'scratch-anon');
  const names = async () => {
    const w = c.spawnQ(['-mode', 'worker', '-masterPort', String(c.port), '-basePath', base, '-hostname', 'box.lab']);
    const [, name] = await w.waitForOutput(/===== worker (\S+),/);
    await w.stop('SIGTERM');
    return name!;
  };
  const first = await names();
  t.match(first, /^box-[0-9a-z]{2}$/, 'short hostname + 2 characters');
  t.equal(await names(), first, 'the same name the second time');
});
