// Workflows as a user runs them: -after chains, failures that travel down them, -afterAny,
// -hold / -release, -wait and its exit codes (also across a master killed with -9), -quiet.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

const quiet = (c: Cluster, args: string[]) => {
  const r = c.q(['-quiet', ...args]);
  if (r.code !== 0) throw new Error(`add failed: ${r.stdout}${r.stderr}`);
  return r.stdout.trim().split('\n');
};

t.test('a chain a -> b -> c runs in order; -quiet prints only handles', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-slots', '3']);
  const order = join(c.dir, 'order');
  // Held while the chain is built, so that what waits can be looked at before anything runs.
  const [a] = quiet(c, ['-hold', '-shareWorkingPath', '-add', `echo a >> ${order}`]);
  t.match(a, /^J-[0-9a-z]{6}$/, '-quiet: the handle alone');
  const [b] = quiet(c, ['-after', a!, '-shareWorkingPath', '-add', `echo b >> ${order}`]);
  const [cc] = quiet(c, ['-after', b!, '-shareWorkingPath', '-add', `echo c >> ${order}`]);
  const row = c.row(cc!)!;
  t.equal(row.status, 'held', 'waiting is held');
  t.equal(row.exitReason, `after ${b}`, '-list says what it waits for');
  t.match(c.q(['-info', cc!]).stdout, new RegExp(`after: ${b}`), '-info names it');
  t.match(c.q(['-list', 'status:held', '-tabs']).stdout, new RegExp(cc!));
  c.q(['-release', a!]);
  await c.waitForStatus(cc!, ['done', 'failed'], 20_000);
  t.equal(readFileSync(order, 'utf8'), 'a\nb\nc\n', 'in order, each once');
});

t.test('a failed job fails what waits for it, transitively; -afterAny runs anyway; -rerun puts them back', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const [f] = quiet(c, ['-add', 'exit 3']);
  const [b] = quiet(c, ['-after', f!, '-add', 'echo b']);
  const [d] = quiet(c, ['-after', b!, '-add', 'echo d']);
  const [any] = quiet(c, ['-afterAny', f!, '-add', 'echo any']);
  await c.startWorker('w1', ['-slots', '2']);
  await c.waitForStatus(f!, ['failed']);
  const rb = await c.waitForStatus(b!, ['failed']);
  t.equal(rb.exitReason, `Dependency ${f} failed`);
  t.equal(rb.exitCode, '125');
  t.equal((await c.waitForStatus(d!, ['failed'])).exitReason, `Dependency ${b} failed`, 'and down the chain');
  t.equal((await c.waitForStatus(any!, ['done', 'failed'])).status, 'done', '-afterAny ran after the failure');
  t.match(c.q(['-rerun', f!]).stdout, /Marked 1\/1/);
  await waitFor('the rerun', () => c.row(f!)?.status === 'failed' && c.row(f!)?.exitCode === '3', 20_000);
  t.equal(c.row(b!)!.status, 'failed', 'it failed again, so they fail again');
  // A dependency that no longer exists fails a job at once; a SPEC that names nothing is refused.
  const missing = c.q(['-after', 'tag:none', '-add', 'true']);
  t.equal(missing.code, 2);
  t.equal(missing.stderr, 'q: -after tag:none matches no job\n');
});

t.test('-hold and -release; -add -hold; a held job stays held across a master restart', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const [h] = quiet(c, ['-hold', '-add', 'echo held']);
  const [r] = quiet(c, ['-tags', 'later', '-add', 'echo ready']);
  t.match(c.q(['-hold', 'tag:later']).stdout, /Held 1\/1 jobs/);
  t.equal(c.row(h!)!.exitReason, 'held: q -release to run it');
  await c.master!.stop('SIGKILL');
  await c.startMaster();
  await c.startWorker('w1');
  await new Promise((res) => setTimeout(res, 1500));
  t.same([c.row(h!)!.status, c.row(r!)!.status], ['held', 'held'], 'a worker takes no held job, after a restart too');
  t.match(c.q(['-release', h!, r!]).stdout, /Released 2\/2 jobs/);
  t.equal((await c.waitForStatus(h!, ['done', 'failed'])).status, 'done');
  t.equal((await c.waitForStatus(r!, ['done', 'failed'])).status, 'done');
  t.equal(c.q(['-hold']).stderr, 'q: -hold needs SPEC... (or -add, to add jobs held)\n');
});

t.test('-wait: exit 0 iff all done with 0; -wait -add gives the exit code of its job; it survives a master kill -9', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-slots', '2']);
  const ok = c.q(['-wait', '-add', 'true']);
  t.equal(ok.code, 0);
  t.match(ok.stdout, /1 job: 1 done, 0 failed/);
  const bad = c.q(['-wait', '-add', 'exit 7']);
  t.equal(bad.code, 7, 'the exit code of the job, as sbatch --wait gives it');
  quiet(c, ['-tags', 'sweep', '-add', 'true']);
  quiet(c, ['-tags', 'sweep', '-add', 'exit 1']);
  const sweep = c.q(['-wait', 'tag:sweep', '-json']);
  t.equal(sweep.code, 1, 'one failed: 1');
  t.match(JSON.parse(sweep.stdout), { jobs: 2, done: 1, failed: 1, exitCode: 1 });

  const [slow] = quiet(c, ['-add', 'sleep 3']);
  const waiter = c.spawnQ(['-masterPort', String(c.port), '-wait', slow!]);
  await c.waitForStatus(slow!, ['running']);
  await new Promise((res) => setTimeout(res, 1000)); // the waiter has connected and asked once
  await c.master!.stop('SIGKILL');
  await new Promise((res) => setTimeout(res, 1500));
  t.ok(waiter.alive, `still waiting while the master is gone: ${waiter.out}`);
  await c.startMaster();
  t.equal(await waiter.exited(), 0, 'and it ends when the job does');
  t.match(waiter.out, /1 job: 1 done/);
});

t.test('-retry: a command that fails twice runs a third time and is done; -info shows the retries', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const count = join(c.dir, 'count');
  const hooks = join(c.dir, 'hooks');
  writeFileSync(join(c.dir, 'retry.spec'), `doneHook: echo done >> ${hooks}\nfailedHook: echo failed >> ${hooks}\n`);
  const script = `n=$(cat ${count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${count}; echo try $n; [ $n -ge 3 ]`;
  const h = c.add(['-specPath', join(c.dir, 'retry.spec'), '-retry', '3', '-retryDelay', '1s', '-shareWorkingPath', '-add', script]);
  await waitFor('its first retry', () => c.row(h)?.status === 'held', 20_000);
  t.match(c.row(h)!.exitReason, /^exit code 1: retry 1\/3 in \d/);
  const row = await c.waitForStatus(h, ['done', 'failed'], 30_000);
  t.equal(row.status, 'done');
  t.equal(readFileSync(count, 'utf8'), '3\n', 'three runs');
  t.match(c.q(['-info', h]).stdout, /retry: 2 of 3 made \(exit codes 1 1\)/);
  t.equal(c.q(['-log', h]).stdout, 'try 3\n', 'the log is the last run');
  t.equal(await waitFor('its hook', () => existsSync(hooks) && readFileSync(hooks, 'utf8')), 'done\n', 'hooks: the final outcome only');
  const bad = c.q(['-retry', '-1', '-add', 'true']);
  t.equal(bad.code, 2);
});

t.test('jobs added together: Q_INDEX, Q_COUNT, Q_ARRAY, and -list array: across batches', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-slots', '3']);
  const out = join(c.dir, 'out');
  const handles = quiet(c, ['-numTimes', '3', '-shareWorkingPath', '-add', `echo $Q_INDEX/$Q_COUNT/$Q_ARRAY/$Q_JOB_HANDLE >> ${out}`]);
  t.equal(c.q(['-wait', ...handles]).code, 0);
  const lines = readFileSync(out, 'utf8').trim().split('\n').sort();
  t.same(lines, handles.map((h, i) => `${i}/3/${handles[0]}/${h}`), 'its place, the count, the first, in the order added');
  const [alone] = quiet(c, ['-shareWorkingPath', '-add', `echo "[$Q_INDEX]" > ${out}`]);
  await c.waitForStatus(alone!, ['done']);
  t.equal(readFileSync(out, 'utf8'), '[]\n', 'a job added alone has no Q_INDEX');
  // More than one request's worth (ADD_BATCH a request): the later batches name the same first job.
  const many = quiet(c, ['-hold', '-numTimes', '700', '-add', 'true']);
  t.equal(many.length, 700);
  const listed = c.q(['-list', `array:${many[0]}`, '-tabs']).stdout.trim().split('\n').map((l) => l.split('\t')[0]);
  t.same(listed, many, 'all 700, in order');
  t.match(JSON.parse(c.q(['-info', many[699]!, '-json']).stdout)[0], { arrayIndex: 699, arrayCount: 700, array: many[0] }, '-json says it');
});
