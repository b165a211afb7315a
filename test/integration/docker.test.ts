// Docker jobs on the real engine (scripts/test-images.sh builds the image). Each test's
// containers carry its own scratch path as a label, so the teardown removes only ours.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Cluster, waitFor, type Teardown } from '../helpers/q.js';
import { TEST_IMAGE, containersWith, dockerReady, removeContainers } from '../helpers/docker.js';

const D = ['-docker', TEST_IMAGE];

/** A cluster with one worker whose containers the test's teardown removes. */
async function cluster(t: Teardown, workerArgs: string[] = [], masterArgs: string[] = []) {
  const c = new Cluster(t);
  const base = join(c.dir, 'scratch-dw');
  t.teardown(() => removeContainers(`q.base=${base}`));
  await c.startMaster(masterArgs);
  const worker = await c.startWorker('dw', workerArgs);
  return { c, base, worker };
}



function running(handle: string): boolean {
  const r = spawnSync('docker', ['ps', '-q', '--filter', `label=q.job=${handle}`, '--filter', 'status=running'], { encoding: 'utf8' });
  return r.stdout.trim() !== '';
}

function json(c: Cluster, handle: string) {
  return JSON.parse(c.q(['-list', `handle:${handle}`, '-json']).stdout)[0];
}

t.test('a job runs in a container: cgroup, exit codes, container removed, -w', async (t) => {
  if (!dockerReady(t)) return;
  const { c } = await cluster(t);
  const w = c.q(['-w', '-tabs']).stdout.split('\t');
  t.match(w[13], /^\d+\.\d+/, '-w shows the engine version');
  const cg = c.add([...D, '-add', 'cat', '/proc/self/cgroup']);
  const three = c.add([...D, '-add', 'echo out; echo err >&2; exit 3']);
  const missing = c.add(['-docker', 'q-test-no-such-image', '-add', 'true']);
  // Only the two output files are mounted: the job cannot replace them or see the worker's records.
  const files = c.add([...D, '-add', 'ls -A /.q; rm -f /.q/stdout || echo refused']);
  t.equal((await c.waitForStatus(cg, ['done', 'failed'])).status, 'done');
  t.match(c.q(['-log', cg]).stdout, /docker/, 'its cgroup is a container');
  const r3 = await c.waitForStatus(three, ['done', 'failed']);
  t.equal(r3.exitCode, '3');
  t.equal(r3.status, 'failed');
  t.match(c.q(['-log', three]).stdout, /out\n/);
  t.match(c.q(['-log', three]).stdout, /err\n/, 'stderr is captured too');
  const rm = await c.waitForStatus(missing, ['done', 'failed']);
  t.equal(rm.exitCode, '125');
  t.match(rm.exitReason, /image q-test-no-such-image .*pulling it failed/);
  await c.waitForStatus(files, ['done', 'failed']);
  t.equal(c.q(['-log', files]).stdout.replace(/^rm: .*\n/gm, ''), 'stderr\nstdout\nrefused\n');
  await waitFor('containers removed once the master has the results', () =>
    [cg, three].every((h) => containersWith(`q.job=${h}`).length === 0));
  t.pass('no container left');
});

t.test('memory limit: the kernel kills the container; accounting from the engine', async (t) => {
  if (!dockerReady(t)) return;
  const { c } = await cluster(t);
  const oom = c.add([...D, '-mem', '32m', '-add', 'head -c 200m /dev/zero | tail > /dev/null']);
  // Within its limit: about 60 MB held by tail for 3 s (stats frames come once a second),
  // then 2-3 s of CPU in user mode.
  const fits = c.add([...D, '-mem', '200m', '-add',
    // Busy for a fixed 2 s of wall time, not a fixed count: a faster machine must not pass
    // under the threshold.
    '{ head -c 60m /dev/zero; sleep 3; } | tail > /dev/null; end=$(($(date +%s) + 3)); ' +
      'while [ $(date +%s) -lt $end ]; do j=0; while [ $j -lt 2000 ]; do j=$((j+1)); done; done']);
  const r = await c.waitForStatus(oom, ['done', 'failed']);
  t.equal(r.exitCode, '137');
  t.match(r.exitReason, /^Memory limit exceeded: reached the container's 32m, limit 32m \* 1$/);
  t.equal((await c.waitForStatus(fits, ['done', 'failed'], 30_000)).status, 'done');
  const j = json(c, fits);
  t.ok(j.maxMem >= 55 && j.maxMem < 200, `peak memory ${j.maxMem} MB (tail held 60)`);
  t.ok(j.userTime > 0.2, `user CPU ${j.userTime}s`);
  t.ok(j.realTime >= 3, `real time ${j.realTime}s`);
});

t.test('time limit and kills end the container', async (t) => {
  if (!dockerReady(t)) return;
  const { c } = await cluster(t, ['-slots', '3']);
  const slow = c.add([...D, '-time', '2s', '-add', 'sleep 30']);
  const victim = c.add([...D, '-add', 'sleep 100']);
  // Ignored TERM is inherited by its children: only the KILL after the grace period ends it.
  const stubborn = c.add([...D, '-add', "trap '' TERM; while :; do sleep 1; done"]);
  await c.waitForStatus(victim, ['running']);
  await c.waitForStatus(stubborn, ['running']);
  await new Promise((r) => setTimeout(r, 1000));
  t.match(c.q(['-kill', victim, stubborn]).stdout, /Requested workers to kill 2\/2 jobs/);
  const rs = await c.waitForStatus(slow, ['done', 'failed']);
  t.equal(rs.exitCode, '143');
  t.match(rs.exitReason, /^Time limit exceeded: ran 2\.\ds, limit 2s$/);
  const rv = await c.waitForStatus(victim, ['done', 'failed']);
  t.equal(rv.exitCode, '143');
  t.match(rv.exitReason, /Killed/);
  const rst = await c.waitForStatus(stubborn, ['done', 'failed']);
  t.equal(rst.exitCode, '137', 'KILL after the grace period');
  await waitFor('containers gone', () => [slow, victim, stubborn].every((h) => containersWith(`q.job=${h}`).length === 0));
  t.pass('no container left');
});

t.test('network none unless asked; the worker user unless -dockerUser', async (t) => {
  if (!dockerReady(t)) return;
  const { c } = await cluster(t, ['-dockerUser', '1234:2345', '-slots', '2']);
  const none = c.add([...D, '-add', 'ls /sys/class/net; id -u; id -g; touch made-here && echo wrote']);
  const net = c.add([...D, '-network', '-add', 'ls /sys/class/net']);
  await c.waitForStatus(none, ['done', 'failed']);
  await c.waitForStatus(net, ['done', 'failed']);
  t.equal(c.q(['-log', none]).stdout, 'lo\n1234\n2345\nwrote\n', 'only loopback; runs as the configured user and can write its working dir');
  t.match(c.q(['-log', net]).stdout, /eth0/, '-network gives it one');
});

t.test('-dockerImage runs every job in a container; -requireDocker refuses bare jobs', async (t) => {
  if (!dockerReady(t)) return;
  const c = new Cluster(t);
  for (const h of ['img', 'only']) t.teardown(() => removeContainers(`q.base=${join(c.dir, `scratch-${h}`)}`));
  await c.startMaster();
  await c.startWorker('img', ['-dockerImage', TEST_IMAGE]);
  const plain = c.add(['-workerHandle', 'img', '-add', 'cat /proc/self/cgroup']);
  await c.waitForStatus(plain, ['done', 'failed']);
  t.match(c.q(['-log', plain]).stdout, /docker/, 'a job naming no image ran in the default image');

  const only = await c.startWorker('only', ['-requireDocker']);
  t.match(c.q(['-w', '-tabs']).stdout, /^only\t.*\t\d[^\t]* only\t/m, '-w says it runs only Docker jobs');
  const bare = c.add(['-workerHandle', 'only', '-add', 'true']);
  const boxed = c.add(['-workerHandle', 'only', ...D, '-add', 'cat /proc/self/cgroup']);
  await c.waitForStatus(boxed, ['done', 'failed']);
  t.match(c.q(['-log', boxed]).stdout, /docker/);
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(json(c, bare).status, 'ready');
  t.equal(json(c, bare).attempt, 0, 'a bare job is never sent to a -requireDocker worker');
  t.notMatch(only.out, /Giving back/);
});

t.test('a worker restarted while its container runs takes it back; the result lands once', async (t) => {
  if (!dockerReady(t)) return;
  const { c, base, worker } = await cluster(t, ['-slots', '2']);
  const long = c.add([...D, '-add', 'echo begun; sleep 8; echo finished']);
  // It must end while no worker watches: the wait for the long job's output took over a
  // second once under load, and a `sleep 1` had ended, been collected and removed by then.
  const short = c.add([...D, '-add', 'sleep 3; echo quick']);
  // Running means the container runs (the status says only that the worker has the job).
  await waitFor('both containers running', () =>
    [long, short].every((h) => containersWith(`q.job=${h}`).length === 1 && running(h)), 15_000);
  await waitFor('output of the long job', () => c.q(['-log', long]).stdout.includes('begun'));
  t.ok(running(short), 'the short job still runs as its worker goes');
  await worker.stop('SIGKILL');
  await waitFor('the short job to end with no worker', () => !running(short), 15_000);
  t.equal(containersWith(`q.base=${base}`).length, 2, 'the containers outlive their worker');
  const again = await c.startWorker('dw', ['-slots', '2']);
  await again.waitForOutput(/Took back J-\w+ in container \w+ \(exited\)/);
  const rl = await c.waitForStatus(long, ['done', 'failed']);
  const rs = await c.waitForStatus(short, ['done', 'failed']);
  t.equal(rs.status, 'done');
  t.equal(rl.status, 'done');
  t.equal(json(c, long).attempt, 1, 'not run again');
  t.equal(c.q(['-log', long]).stdout, 'begun\nfinished\n', 'output not lost or repeated across the restart');
  t.equal(c.q(['-log', short]).stdout, 'quick\n');
  await waitFor('containers removed', () => containersWith(`q.base=${base}`).length === 0);
  t.pass('no orphan');
});

t.test('a container whose job was given to another worker meanwhile is removed on restart', async (t) => {
  if (!dockerReady(t)) return;
  const { c, base, worker } = await cluster(t, [], ['-heartbeatTimeout', '2s']);
  const h = c.add([...D, '-add', 'sleep 6; echo done']);
  await waitFor('its container running', () => running(h), 15_000);
  await worker.stop('SIGKILL');
  await c.waitForStatus(h, ['ready'], 10_000); // lost: back in the queue
  const again = await c.startWorker('dw');
  await again.waitForOutput(/Took back/);
  const row = await c.waitForStatus(h, ['done', 'failed'], 20_000);
  t.equal(row.status, 'done');
  t.equal(json(c, h).attempt, 2, 'it ran again under a new lease');
  t.equal(c.q(['-log', h]).stdout, 'done\n', 'the old container left nothing in the log');
  await waitFor('no container left', () => containersWith(`q.base=${base}`).length === 0);
  t.pass('the stale container is gone');
});

t.test('no engine: the worker says so and keeps serving process jobs', async (t) => {
  const c = new Cluster(t);
  c.env.DOCKER_HOST = `unix://${join(c.dir, 'no-docker.sock')}`;
  await c.startMaster();
  const w = await c.startWorker('nod');
  await w.waitForOutput(/No Docker engine reachable .*running process jobs only/);
  t.match(c.q(['-w', '-tabs']).stdout, /^nod\t.*\tno\t/m);
  const boxed = c.add([...D, '-add', 'true']);
  const plain = c.add(['-add', 'echo plain']);
  t.equal((await c.waitForStatus(plain, ['done', 'failed'])).status, 'done');
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(json(c, boxed).status, 'ready');
  t.equal(json(c, boxed).attempt, 0, 'a Docker job is never sent to a worker without an engine');
  t.notMatch(w.out, /Giving back/);
});
