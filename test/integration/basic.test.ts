import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, FIXTURES, waitFor } from '../helpers/q.js';

t.test('add → run → list, with output kept and shown by -log', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const r = c.q(['-add', 'echo', 'hello']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^Job J-[0-9a-z]{6} added successfully\n$/);
  const handle = /J-[0-9a-z]{6}/.exec(r.stdout)![0];
  const row = await c.waitForStatus(handle, ['done', 'failed']);
  t.equal(row.status, 'done');
  t.equal(row.exitCode, '0');
  t.equal(row.worker, `w1 ${row.worker.split(' ')[1]}`);
  t.equal(row.command, 'echo hello');
  t.match(c.q(['-list']).stdout, new RegExp(`^${handle}\\s+w1 \\S+\\s+done\\s+0\\s.*echo hello$`, 'm'));
  t.equal(c.q(['-log', handle]).stdout, 'hello\n');
  // The master has its result and all its output: the worker keeps nothing of it.
  await waitFor('the worker to let its files go', () => !existsSync(join(c.dir, 'scratch-w1', '.q', 'jobs', handle)), 10_000);
});

t.test('dash arguments stay in the command; exit codes and stderr', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-slots', '2']);
  const ls = c.add(['-add', 'ls', '-l', '/']);
  const bad = c.add(['-add', 'echo oops >&2; exit 3']);
  const lsRow = await c.waitForStatus(ls, ['done', 'failed']);
  t.equal(lsRow.command, 'ls -l /');
  t.equal(lsRow.status, 'done');
  t.match(c.q(['-log', ls]).stdout, /^total /);
  const badRow = await c.waitForStatus(bad, ['done', 'failed']);
  t.equal(badRow.status, 'failed');
  t.equal(badRow.exitCode, '3');
  t.equal(c.q(['-log', bad]).stdout, 'oops\n');
});

t.test('priorities: lower number first, then oldest', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const order = join(c.dir, 'order');
  const jobs = [
    ['-priority', '5', '-add', `echo a >> ${order}`],
    ['-priority', '1', '-add', `echo b >> ${order}`],
    ['-priority', '--', '-2', '-add', `echo c >> ${order}`],
    ['-priority', '1', '-add', `echo d >> ${order}`],
  ];
  const handles = jobs.map((args) => c.add(args));
  await c.startWorker('w1');
  for (const h of handles) await c.waitForStatus(h, ['done']);
  t.equal(readFileSync(order, 'utf8'), 'c\nb\nd\na\n');
});

t.test('workerHandle pins a job to one worker', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('wa', ['-slots', '4']);
  await c.startWorker('wb', ['-slots', '4']);
  const handles = Array.from({ length: 6 }, () => c.add(['-workerHandle', 'wb', '-add', 'true']));
  for (const h of handles) {
    const row = await c.waitForStatus(h, ['done']);
    t.match(row.worker, /^wb /);
  }
  // A job pinned to a worker that does not exist waits.
  const lonely = c.add(['-workerHandle', 'nobody', '-add', 'true']);
  await new Promise((r) => setTimeout(r, 500));
  t.equal(c.row(lonely)?.status, 'ready');
});

t.test('limits: time and memory kill the tree with a precise reason', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-slots', '2']);
  const slow = c.add(['-time', '2s', '-add', 'sleep', '30']);
  const hog = c.add(['-mem', '100m', '-add', 'node', join(FIXTURES, 'eat-memory.js'), '20']);
  const slowRow = await c.waitForStatus(slow, ['done', 'failed']);
  t.equal(slowRow.status, 'failed');
  t.match(slowRow.exitReason, /^Time limit exceeded: ran 2\.\ds, limit 2s$/);
  t.equal(slowRow.exitCode, '143', 'killed by TERM: 128 + 15');
  t.ok(Number(slowRow.time) >= 2 && Number(slowRow.time) < 5, `time ${slowRow.time}`);
  const hogRow = await c.waitForStatus(hog, ['done', 'failed']);
  t.equal(hogRow.status, 'failed');
  t.match(hogRow.exitReason, /^Memory limit exceeded: used \d+m, limit 100m \* 1$/);
  // From -json: the -tabs column is rounded to whole MB, and 100.4 MB shows as 100.
  const [hogJob] = JSON.parse(c.q(['-list', hog, '-json']).stdout) as { maxMem: number }[];
  t.ok(hogJob!.maxMem > 100, `mem ${hogJob!.maxMem}`);
  t.ok(['143', '137'].includes(hogRow.exitCode), `exit ${hogRow.exitCode}`);
});

t.test('a job that ignores TERM is KILLed after the grace period', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const h = c.add(['-time', '1s', '-add', 'sh', join(FIXTURES, 'ignore-term.sh')]);
  const row = await c.waitForStatus(h, ['done', 'failed']);
  t.equal(row.exitCode, '137');
  t.match(row.exitReason, /Time limit exceeded/);
});

t.test('kill, rerun and delete', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const h = c.add(['-tags', 'long', '-add', 'sleep', '30']);
  await c.waitForStatus(h, ['running']);
  const k = c.q(['-kill', 'tag:long']);
  t.equal(k.stdout, 'Requested workers to kill 1/1 jobs\n');
  const row = await c.waitForStatus(h, ['failed']);
  t.equal(row.exitReason, 'Killed by server request');
  t.equal(row.exitCode, '143');
  t.equal(c.q(['-kill', h]).stdout, 'Requested workers to kill 0/1 jobs\n', 'finished jobs are not killed');

  writeFileSync(join(c.dir, 'flag'), '');
  const flaky = c.add(['-shareWorkingPath', '-add', 'test ! -e flag']);
  t.equal((await c.waitForStatus(flaky, ['done', 'failed'])).status, 'failed');
  t.equal(c.q(['-rerun', 'status:failed']).stdout, 'Marked 2/2 jobs to rerun\n');
  await c.waitForStatus(h, ['running']);
  t.equal(c.q(['-rerun', h]).stdout, 'Marked 0/1 jobs to rerun\n', 'a running job is not rerun');
  c.q(['-kill', h]);
  await c.waitForStatus(h, ['failed']);
  t.equal((await c.waitForStatus(flaky, ['done', 'failed'])).status, 'failed', 'rerun ran it again');

  const echo = c.add(['-add', 'echo', 'once']);
  await c.waitForStatus(echo, ['done']);
  c.q(['-rerun', echo]);
  await c.waitForStatus(echo, ['done']);
  t.equal(c.q(['-log', echo]).stdout, 'once\n', 'a rerun starts its output afresh');
  await waitFor('the worker to let its files go', () => !existsSync(join(c.dir, 'scratch-w1', '.q', 'jobs', echo)), 10_000);
  t.equal(c.q(['-delete', h]).stdout, 'Deleted 1/1 jobs\n');
  t.equal(c.row(h), undefined);
  const none = c.q(['-delete', 'tag:nothing']);
  t.same([none.code, none.stdout, none.stderr], [2, '', 'q: -delete tag:nothing: no job matches\n'], 'a delete that matches nothing is a mistake');
});

t.test('delete of a running job ends its process', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const marker = join(c.dir, 'still-running');
  const h = c.add(['-shareWorkingPath', '-add', `sleep 2 && touch ${marker}`]);
  await c.waitForStatus(h, ['running']);
  t.equal(c.q(['-delete', h]).stdout, 'Deleted 1/1 jobs\n');
  await new Promise((r) => setTimeout(r, 2500));
  t.notOk(existsSync(marker), 'the deleted job did not go on to finish');
  // The worker is free again.
  const next = c.add(['-add', 'true']);
  t.equal((await c.waitForStatus(next, ['done'])).status, 'done');
});

t.test('doneHook and failedHook run on the master, from a spec file named with -specPath or the command line', async (t) => {
  const c = new Cluster(t);
  const out = join(c.dir, 'out');
  writeFileSync(
    join(c.dir, 'hooks.spec'),
    `outPath: ${out}\ndoneHook: echo "done $Q_JOB_HANDLE" > _OUTPATH_.hook\nfailedHook: echo "failed $Q_JOB_EXIT_CODE" > _OUTPATH_.hook\n`,
  );
  await c.startMaster();
  await c.startWorker('w1');
  const ok = c.add(['-specPath', 'hooks.spec', '-add', 'true']);
  await c.waitForStatus(ok, ['done']);
  const hook = await waitFor('done hook', () => existsSync(out + '.hook') && readFileSync(out + '.hook', 'utf8'));
  t.equal(hook, `done ${ok}\n`);
  const bad = c.add(['-outPath', out, '-failedHook', 'echo "failed $Q_JOB_EXIT_CODE" > _OUTPATH_.hook', '-add', 'exit 4']);
  await c.waitForStatus(bad, ['failed']);
  t.equal(await waitFor('failed hook', () => {
    const s = readFileSync(out + '.hook', 'utf8');
    return s.startsWith('failed') && s;
  }), 'failed 4\n');
});

t.test('the master restarts with its jobs; the worker comes back by itself', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const done = c.add(['-add', 'echo', 'before']);
  await c.waitForStatus(done, ['done']);
  await c.master!.stop('SIGKILL');
  t.not(c.q(['-list']).code, 0, 'no master: the client fails');
  await c.startMaster();
  t.equal(c.row(done)?.status, 'done', 'the finished job survived kill -9');
  const after = c.add(['-add', 'echo', 'after']);
  t.equal((await c.waitForStatus(after, ['done'])).status, 'done', 'the worker reconnected and ran a new job');
  t.equal(c.q(['-log', after]).stdout, 'after\n');
});

t.test('-log -follow prints output as it comes, until the job ends', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const h = c.add(['-add', 'for i in 1 2 3; do echo line $i; sleep 0.3; done']);
  await c.waitForStatus(h, ['running']);
  const follower = c.spawnQ(['-masterPort', String(c.port), '-log', h, '-follow']);
  t.equal(await follower.exited(), 0);
  t.equal(follower.out, 'line 1\nline 2\nline 3\n');
});

t.test('-log -follow of a job deleted under it says so, and does not exit 0', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const running = c.add(['-add', 'echo started; sleep 30']);
  await c.waitForStatus(running, ['running']);
  const queued = c.add(['-queue', 'nobody', '-add', 'true']);
  const followRunning = c.spawnQ(['-masterPort', String(c.port), '-log', running, '-follow']);
  const followQueued = c.spawnQ(['-masterPort', String(c.port), '-log', queued, '-follow', '-json']);
  await followRunning.waitForOutput(/started/);
  await new Promise((r) => setTimeout(r, 300)); // the queued one's follower is registered
  t.equal(c.q(['-delete', running, queued]).stdout, 'Deleted 2/2 jobs\n');
  t.equal(await followRunning.exited(), 1);
  // stdout and stderr, in that order: what it wrote before, then why the log ended.
  t.equal(followRunning.out, `started\nq: ${running} was deleted while its log was followed\n`);
  t.equal(await followQueued.exited(), 1);
  const [json] = followQueued.out.split('\n');
  t.same(JSON.parse(json!), { handle: queued, status: 'deleted', output: '' }, 'never "failed": it was deleted');
});

t.test('-saveState and -shutdownMaster', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  c.add(['-add', 'true']);
  t.equal(c.q(['-saveState']).stdout, 'Saved 1 jobs to state\n');
  t.equal(c.q(['-shutdownMaster']).stdout, 'Server is shutting down\n');
  t.equal(await c.master!.exited(), 0);
});

t.test('output written while the master is down reaches -log after it restarts', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const h = c.add(['-add', 'for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.4; done']);
  await c.waitForStatus(h, ['running']);
  await new Promise((r) => setTimeout(r, 800));
  await c.master!.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  await c.startMaster();
  await c.waitForStatus(h, ['done'], 20_000);
  t.equal(c.q(['-log', h]).stdout, [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `line ${i}\n`).join(''));
});

t.test('disk limit: the outPath growing past -disk kills the job', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1');
  const out = join(c.dir, 'out');
  const h = c.add([
    '-shareWorkingPath', '-outPath', out, '-disk', '5m',
    '-add', `mkdir -p ${out} && for i in 1 2 3 4 5 6 7 8 9 10; do head -c 2000000 /dev/zero > ${out}/f$i; sleep 1; done`,
  ]);
  const row = await c.waitForStatus(h, ['done', 'failed'], 20_000);
  t.equal(row.status, 'failed');
  t.match(row.exitReason, /^Disk limit exceeded: outPath holds \d+m, limit 5m$/);
  t.ok(Number(row.disk) > 5, `disk ${row.disk}`);
  t.equal(row.outName, 'out');
});
