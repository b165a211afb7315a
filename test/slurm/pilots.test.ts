// Workers as Slurm jobs, against the real Slurm scripts/test-slurm.sh runs on this machine:
// -startWorkers -slurm (and -pretend), the pilots in -w, -termWorkers, a pilot's -lifetime,
// and -autoscale. Every test leaves nothing in squeue.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';
import { slurmReady } from '../helpers/services.js';
import { SQUEUE_PILOTS, pilotTasks } from '../../src/client/slurm.js';

/** This user's pilot tasks in squeue, as the client reads them: [task id, state]. */
const squeue = () => pilotTasks(spawnSync('squeue', SQUEUE_PILOTS, { encoding: 'utf8' }).stdout);
const pilotsIn = (c: Cluster) =>
  c
    .q(['-w', '-tabs'])
    .stdout.split('\n')
    .filter((l) => l.startsWith('slurm-'))
    .map((l) => l.split('\t'));

function cleanUp(t: { teardown(fn: () => unknown): void }): void {
  t.teardown(() => {
    const ids = squeue().map(([id]) => id);
    if (ids.length) spawnSync('scancel', ids);
  });
}

t.test('-startWorkers -slurm: -pretend shows the script; then two pilots run jobs; -termWorkers gives their jobs back', async (t) => {
  if (!slurmReady(t)) return;
  const c = new Cluster(t);
  cleanUp(t);
  await c.startMaster();
  const token = readFileSync(join(c.dir, 'state', 'token'), 'utf8').trim();
  const before = squeue().length;
  const pretend = c.q(['-startWorkers', '2', '-slurm', '-workerTime', '2m', '-pretend']);
  t.equal(pretend.code, 0, pretend.stderr);
  t.match(pretend.stdout, /^#!\/bin\/sh\n/);
  t.match(pretend.stdout, /^#SBATCH --array=0-1$/m);
  t.match(pretend.stdout, /^#SBATCH --time=0-00:02:00$/m);
  t.match(pretend.stdout, /-walltime 108s -lifetime 600s/, 'a walltime under the Slurm limit; idle ones leave after 10m');
  t.notMatch(pretend.stdout, token, 'the token is not in the script');
  t.equal(squeue().length, before, '-pretend submits nothing');

  const long = c.add(['-time', '5m', '-add', 'true']);
  const sub = c.q(['-startWorkers', '2', '-slurm', '-workerTime', '2m', '-lifetime', '1m']);
  t.equal(sub.code, 0, sub.stderr);
  const [, id] = /as Slurm job (\d+)/.exec(sub.stdout)!;
  await waitFor('two pilots in -w', () => pilotsIn(c).filter((w) => w[3] !== 'away').length === 2, 60_000, 250);
  t.same(pilotsIn(c).map((w) => w[0]).sort(), [`slurm-${id}_0`, `slurm-${id}_1`], 'handles name their Slurm job');
  const a = c.add(['-time', '30s', '-add', 'true']);
  await c.waitForStatus(a, ['done']);
  t.match(c.row(a)?.worker, /^slurm-/, 'a job ran on a pilot');
  t.equal(c.row(long)?.status, 'ready', 'one longer than a pilot has left is never given to one');

  const sleeper = c.add(['-time', '1m', '-add', 'sleep 60']);
  await c.waitForStatus(sleeper, ['running']);
  t.equal(c.q(['-termWorkers', 'slurm']).stdout, '2 workers terminated\n');
  await c.waitForStatus(sleeper, ['ready'], 30_000);
  await waitFor('the pilots gone from squeue', () => squeue().length === before, 30_000, 250);
  await waitFor('and from -w', () => pilotsIn(c).length === 0, 10_000);
  await c.master!.waitForOutput(new RegExp(`Requeued ${sleeper}: `));
  await c.startWorker('local');
  c.q(['-kill', sleeper]);
  await c.waitForStatus(sleeper, ['failed']);
  t.equal(c.row(sleeper)?.worker.split(' ')[0], 'local', 'and ran elsewhere');
});

t.test('a pilot with -lifetime ends by itself, and so does its Slurm job', async (t) => {
  if (!slurmReady(t)) return;
  const c = new Cluster(t);
  cleanUp(t);
  await c.startMaster();
  const before = squeue().length;
  t.equal(c.q(['-startWorkers', '1', '-slurm', '-workerTime', '5m', '-lifetime', '5s']).code, 0);
  await waitFor('the pilot in -w', () => pilotsIn(c).length === 1, 60_000, 250);
  await waitFor('it left', () => pilotsIn(c).length === 0, 30_000, 250);
  await waitFor('its Slurm job completed', () => squeue().length === before, 30_000, 250);
  await c.master!.waitForOutput(/Worker slurm-\d+_0 left/);
});

t.test('sbatch refusing is one clear line', async (t) => {
  if (!slurmReady(t)) return;
  const c = new Cluster(t);
  await c.startMaster();
  const r = c.q(['-startWorkers', '1', '-slurm', '-partition', 'nosuch']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^q: sbatch: .*[Pp]artition.*\n$/);
  t.equal(c.q(['-startWorkers', '1']).stderr, 'q: -startWorkers starts workers on Slurm only: add -slurm (EC2 is not supported)\n');
  t.match(c.q(['-runWorkers']).stderr, /-startWorkers N -slurm/);
});

t.test('-autoscale slurm:3: twelve jobs, no workers: at most three pilots run them all, then leave', async (t) => {
  if (!slurmReady(t)) return;
  const c = new Cluster(t);
  cleanUp(t);
  const before = squeue().length;
  await c.startMaster(['-autoscale', 'slurm:3', '-lifetime', '5s', '-slurmArgs', '--time=00:05:00']);
  const handles = c.q(['-quiet', '-numTimes', '12', '-time', '30s', '-add', 'sleep 0.5']).stdout.split('\n').filter(Boolean);
  t.equal(handles.length, 12);
  let most = 0;
  await waitFor(
    'all twelve done',
    () => {
      most = Math.max(most, squeue().length - before);
      return handles.every((h) => c.row(h)?.status === 'done');
    },
    120_000,
    250,
  );
  t.ok(most >= 1 && most <= 3, `at most 3 pilots at once (${most})`);
  t.match(c.master!.out, /Autoscale: \d+\+? jobs wait, 0 pilots \(0 starting\) of at most 3: submitted [1-3] as Slurm job \d+/);
  t.match(c.q(['-w']).stderr, /^autoscale: /m, '-w says what it did');
  await waitFor('the pilots gone', () => squeue().length === before, 60_000, 250);
  t.same(pilotsIn(c), [], 'and forgotten');
});
