// The Docker engine stopping under running jobs is not the jobs' fault: they go back to the
// queue, counted like a lost worker, with a reason naming the engine; a `docker stop` from
// outside q says so; a job that ends by a signal of its own keeps its exit code.
import t, { type Test } from 'tap';

const tap = t;
import { dockerReady, TEST_IMAGE } from '../helpers/docker.js';
import { PrivateEngine } from '../helpers/privateEngine.js';
import { Cluster, waitFor } from '../helpers/q.js';

const D = ['-docker', TEST_IMAGE];

/** Fails in CI (Q_REQUIRE_DOCKER=1), skips loudly elsewhere, when no private engine can run. */
function engineReady(t: Test): boolean {
  if (!dockerReady(t)) return false;
  const why = PrivateEngine.unavailable();
  if (why === null) return true;
  if (process.env.Q_REQUIRE_DOCKER === '1') t.fail(`Q_REQUIRE_DOCKER=1 but ${why}`);
  else {
    process.stderr.write(`\n!!!!! SKIPPING DOCKER ENGINE RESTART TESTS: ${why} !!!!!\n\n`);
    t.skip(why, () => {});
  }
  return false;
}

/** One engine for the file (each start costs seconds): gone when the file's tests are. */
let engine: Promise<PrivateEngine> | null = null;

async function setUp(t: Test) {
  engine ??= PrivateEngine.start(tap);
  const e = await engine;
  if (e.running().length) e.docker(['rm', '-f', ...e.running()]);
  return { engine: e, ...(await cluster(t, e)) };
}

async function cluster(t: Test, engine: PrivateEngine) {
  const c = new Cluster(t);
  c.env.DOCKER_HOST = engine.host;
  await c.startMaster();
  const w = await c.startWorker('w1', ['-slots', '3']);
  return { c, w };
}

t.test('an engine restart gives its running jobs back; they run again, or fail naming the engine', async (t) => {
  if (!engineReady(t)) return;
  const { engine, c, w } = await setUp(t);
  const again = c.add([...D, '-retries', '1', '-add', 'echo start; sleep 8; echo end']);
  const once = c.add([...D, '-retries', '0', '-add', 'echo start; sleep 8; echo end']);
  await waitFor('both containers running', () => engine.running().length === 2, 30_000, 200);
  await c.waitForStatus(again, ['running']);
  await c.waitForStatus(once, ['running']);

  await engine.down(); // as `systemctl stop docker`: the engine TERMs its containers, then goes
  await w.waitForOutput(new RegExp(`Giving back ${again}: the Docker engine stopped while its container ran`), 20_000);
  await c.master!.waitForOutput(new RegExp(`Requeued ${again}: w1: the Docker engine stopped while its container ran`), 10_000);
  const failed = await c.waitForStatus(once, ['done', 'failed', 'ready'], 20_000);
  t.equal(failed.status, 'failed', 'no retries left: it fails');
  t.match(failed.exitReason, /^Worker lost: w1: the Docker engine stopped while its container ran \(1 times; -retries 0\)$/);
  // The worker has no engine now: the job waits rather than being handed to it again.
  t.equal(c.row(again)?.status, 'ready');

  await engine.up();
  const done = await c.waitForStatus(again, ['done', 'failed'], 60_000);
  t.equal(done.status, 'done', done.exitReason);
  t.equal(done.exitCode, '0');
  const [job] = JSON.parse(c.q(['-list', again, '-json']).stdout);
  t.equal(job.attempt, 2, 'the second attempt ran it');
  t.equal(c.q(['-log', again]).stdout, 'start\nend\n', 'the log is the attempt that finished');
});

t.test('a docker stop from outside q is named; a signal from inside is the job’s own exit code', async (t) => {
  if (!engineReady(t)) return;
  const { engine, c } = await setUp(t);
  const stopped = c.add([...D, '-add', 'sleep 60']);
  const own = c.add([...D, '-add', 'sleep 1; kill -TERM $$']);
  await waitFor('the container running', () => engine.running().length >= 1, 30_000, 200);
  await c.waitForStatus(stopped, ['running']);
  const mine = await c.waitForStatus(own, ['done', 'failed'], 30_000);
  t.equal(mine.exitCode, '143');
  t.equal(mine.exitReason, '', 'its own TERM: no reason added');

  const id = engine.docker(['ps', '-q', '--filter', `label=q.job=${stopped}`]).stdout.trim();
  t.ok(id, 'its container');
  t.equal(engine.docker(['stop', '-t', '1', id]).status, 0);
  // The engine stays up: after a while the exit is put down to whoever ran docker stop.
  const r = await c.waitForStatus(stopped, ['done', 'failed', 'ready'], 40_000);
  t.equal(r.status, 'failed');
  t.equal(r.exitCode, '143');
  t.match(r.exitReason, /^Stopped outside q: the Docker engine was asked to send it SIGTERM \(docker stop or docker kill\)$/);
});
