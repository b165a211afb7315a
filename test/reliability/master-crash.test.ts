// The master killed (-9) again and again while workers run a queue of jobs: after each
// restart every acknowledged job is there, running jobs went on running, workers came back
// by themselves, and every job ran once and reported once.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

const JOBS = 200;

t.test('kill -9 of the master under load loses nothing and runs nothing twice', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-slots', '4']);
  await c.startWorker('w2', ['-slots', '4']);
  const marker = join(c.dir, 'ran');
  const input = Array.from({ length: JOBS }, () => `sleep 0.3; echo $Q_JOB_HANDLE >> ${marker}; echo out-$Q_JOB_HANDLE`).join('\n');
  const added = c.q(['-shareWorkingPath', '-add', '-'], { input }).stdout.match(/J-[0-9a-z]{6}/g) ?? [];
  t.equal(added.length, JOBS, 'all acknowledged');
  for (let round = 0; round < 3; round++) {
    await new Promise((r) => setTimeout(r, 1500));
    await c.master!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 700)); // jobs finish while no master listens
    await c.startMaster();
    const listed = c.q(['-list', '-tabs']).stdout.split('\n').filter(Boolean).length;
    t.equal(listed, JOBS, `after kill ${round + 1}: every acknowledged job is there`);
  }
  await waitFor('every job done', () => {
    const rows = c.q(['-list', '-tabs']).stdout.split('\n').filter(Boolean);
    return rows.length === JOBS && rows.every((r) => r.split('\t')[2] === 'done');
  }, 60_000, 500);
  const ran = readFileSync(marker, 'utf8').split('\n').filter(Boolean);
  t.equal(ran.length, JOBS, 'ran exactly as many times as there are jobs');
  t.same(new Set(ran), new Set(added), 'each job ran once');
  const jobs = JSON.parse(c.q(['-list', '-json']).stdout) as { handle: string; attempt: number; exitCode: number }[];
  t.same(jobs.filter((j) => j.attempt !== 1).map((j) => j.handle), [], 'none was given a second attempt');
  const sample = jobs.filter((_, i) => i % 4 === 0);
  const logs = sample.map((j) => c.q(['-log', j.handle]).stdout);
  t.same(logs, sample.map((j) => `out-${j.handle}\n`), 'output landed once (every fourth job checked)');
});
