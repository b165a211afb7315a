// A job is never trusted, round 3: what it writes is never read as instructions by anything
// outside it, and it cannot change what a later job is handed or leave anything behind.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, cleanEnv, waitFor } from '../helpers/q.js';
import { TEST_IMAGE, dockerReady, removeContainers } from '../helpers/docker.js';

t.test('a job.spec a job planted in its working directory never makes the master run a command', async (t) => {
  const c = new Cluster(t, undefined, { env: cleanEnv({ Q_STATE: undefined, HOME: undefined, MASTER_SECRET: 'do-not-leak' }) });
  // The master's environment holds a secret and the token; the clients find the state as usual.
  Object.assign(c.env, { Q_STATE: c.state, HOME: c.dir });
  await c.startMaster();
  await c.startWorker('w');
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  const pwned = join(c.dir, 'pwned');
  const plant = c.add(['-shareWorkingPath', '-add', `printf 'doneHook: id > ${pwned}; cat ${c.state}/token >> ${pwned}\\n' > job.spec`], { cwd: exp });
  t.equal((await c.waitForStatus(plant, ['done', 'failed'])).status, 'done', 'the job wrote job.spec');
  const r = c.q(['-add', 'true'], { cwd: exp });
  t.not(r.code, 0, 'the add is refused');
  t.match(r.stderr, new RegExp(`^q: ${join(exp, 'job.spec')} sets doneHook, which a job.spec found by default may not .*-specPath`));
  t.equal(r.stderr.split('\n').length, 2, 'one line');
  t.equal(r.stdout, '');
  await new Promise((res) => setTimeout(res, 500));
  t.notOk(existsSync(pwned), 'no hook ran');
  t.equal(c.q(['-list', '-tabs']).stdout.split('\n').filter(Boolean).length, 1, 'nothing was added');

  // Nor does one name files: the token copied in as an input, a login file written as an output.
  for (const [field, yaml] of [
    ['inPaths', `inPaths: [${c.state}/token]`],
    ['outPath', `outPath: ${c.dir}\noutFiles: [full:.bashrc]`],
    ['shareWorkingPath', 'shareWorkingPath: true'],
  ]) {
    writeFileSync(join(exp, 'job.spec'), yaml + '\n');
    const p = c.q(['-add', 'true'], { cwd: exp });
    t.not(p.code, 0, `a default job.spec that sets ${field} is refused`);
    t.match(p.stderr, new RegExp(`^q: ${join(exp, 'job.spec')} sets ${field}, which a job.spec found by default may not .*-specPath`));
    t.equal(c.q(['-specPath', 'job.spec', '-add', 'true'], { cwd: exp }).code, 0, `named with -specPath, ${field} is used`);
  }

  // A job.spec found by default that sets plain fields is used, and the client says so.
  writeFileSync(join(exp, 'job.spec'), 'priority: 3\n');
  const used = c.q(['-add', 'true'], { cwd: exp });
  t.equal(used.code, 0);
  t.equal(used.stderr, `q: job fields from ${join(exp, 'job.spec')} (found by default; -specPath FILE names another)\n`);

  // Hooks from the command line run with nothing of the master's environment.
  const env = join(c.dir, 'hook-env');
  const h = c.add(['-doneHook', `env > ${env}; pwd >> ${env}`, '-add', 'true'], { cwd: exp });
  await c.waitForStatus(h, ['done']);
  const seen = await waitFor('the hook', () => existsSync(env) && readFileSync(env, 'utf8').includes('\n/\n') && readFileSync(env, 'utf8'));
  t.match(seen, new RegExp(`^Q_JOB_HANDLE=${h}$`, 'm'));
  t.notMatch(seen, /MASTER_SECRET|Q_TOKEN|Q_STATE/, "no secret, token or state of the master's");
  t.notMatch(seen, new RegExp(readFileSync(join(c.state, 'token'), 'utf8').trim()), 'not the token by any name');
});

t.test("a job that rewrites its staged copy of an input (size and mtime put back) changes nothing for a later job", async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w');
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  writeFileSync(join(exp, 'model.txt'), 'the real weights\n');
  const evil = c.add(['-inPaths', 'model.txt', '-add', "cp -p model.txt /tmp/q-orig-$$; printf 'PLANTED weights!\\n' > model.txt; touch -r /tmp/q-orig-$$ model.txt; rm /tmp/q-orig-$$; ls -l --time-style=+%s.%N model.txt"], { cwd: exp });
  t.equal((await c.waitForStatus(evil, ['done', 'failed'])).status, 'done');
  t.match(c.q(['-log', evil]).stdout, /^-.* 17 \d+\.\d+ model\.txt$/m, 'the planted copy has the size and mtime of the input');
  const victim = c.add(['-inPaths', 'model.txt', '-add', 'cat model.txt'], { cwd: exp });
  await c.waitForStatus(victim, ['done', 'failed']);
  t.equal(c.q(['-log', victim]).stdout, 'the real weights\n', 'the copy was fetched again');
});

t.test('Docker jobs: staged inputs are read-only; a volume the image declares is bounded by -disk and goes with the container', async (t) => {
  if (!dockerReady(t)) return;
  const image = 'q-test-volume';
  const built = spawnSync('docker', ['build', '-q', '-t', image, '-'], { input: `FROM ${TEST_IMAGE}\nVOLUME /data\n`, encoding: 'utf8', timeout: 60_000 });
  t.equal(built.status, 0, `an image that declares VOLUME /data: ${built.status === 0 ? 'built' : built.stderr}`);
  const c = new Cluster(t);
  const base = join(c.dir, 'scratch-w');
  t.teardown(() => removeContainers(`q.base=${base}`));
  await c.startMaster();
  await c.startWorker('w');
  const exp = join(c.dir, 'exp');
  mkdirSync(join(exp, 'data'), { recursive: true });
  writeFileSync(join(exp, 'data', 'in.txt'), 'input\n');
  writeFileSync(join(exp, 'alone.txt'), 'alone\n');
  const ro = c.add(['-docker', TEST_IMAGE, '-inPaths', 'data', 'alone.txt', '-add',
    'echo x >> data/in.txt || echo REFUSED-1; echo x > data/new || echo REFUSED-2; echo x >> alone.txt || echo REFUSED-3; echo ok > mine.txt && cat mine.txt'], { cwd: exp });
  await c.waitForStatus(ro, ['done', 'failed'], 30_000);
  const log = c.q(['-log', ro]).stdout;
  t.match(log, /REFUSED-1/, 'an input file');
  t.match(log, /REFUSED-2/, 'an input directory');
  t.match(log, /REFUSED-3/, 'an input given alone');
  t.match(log, /^ok$/m, 'its working directory is its own to write');

  const volumes = () => new Set(spawnSync('docker', ['volume', 'ls', '-q'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean));
  const before = volumes();
  const v = c.add(['-docker', image, '-disk', '10m', '-add', 'head -c 30m /dev/zero > /data/big; echo exit=$?; du -sm /data'], { cwd: exp });
  const r = await c.waitForStatus(v, ['done', 'failed'], 30_000);
  const vlog = c.q(['-log', v]).stdout;
  t.match(vlog, /exit=[1-9]/, `the write past -disk failed (${r.status}: ${vlog.trim()})`);
  t.match(vlog, /^(9|10)\t\/data$/m, 'it held no more than -disk');
  await waitFor('the container removed', () => spawnSync('docker', ['ps', '-aq', '--filter', `label=q.job=${v}`], { encoding: 'utf8' }).stdout.trim() === '', 15_000);
  const left = [...volumes()].filter((x) => !before.has(x));
  t.same(left, [], 'no volume left behind');

  // A volume the image declares where the job's own directory is bound stays that directory:
  // what the job writes there is its output, not a tmpfs's.
  const shared = join(c.dir, 'shared');
  mkdirSync(shared);
  const image2 = 'q-test-volume-at-work';
  t.teardown(() => spawnSync('docker', ['rmi', '-f', image2]));
  const built2 = spawnSync('docker', ['build', '-q', '-t', image2, '-'], { input: `FROM ${TEST_IMAGE}\nVOLUME ${shared}\n`, encoding: 'utf8', timeout: 60_000 });
  t.equal(built2.status, 0, `an image that declares VOLUME at the job's directory: ${built2.status === 0 ? 'built' : built2.stderr}`);
  const w = c.add(['-docker', image2, '-shareWorkingPath', '-add', 'echo kept > out.txt'], { cwd: shared });
  const wr = await c.waitForStatus(w, ['done', 'failed'], 30_000);
  t.equal(wr.status, 'done', `${wr.exitCode} ${wr.exitReason}`);
  t.equal(existsSync(join(shared, 'out.txt')) && readFileSync(join(shared, 'out.txt'), 'utf8'), 'kept\n', 'what it wrote is in its directory');
});

t.test('the operator decides what containers may have: a worker with -requireDocker gives no network, -allowImages limits images', async (t) => {
  if (!dockerReady(t)) return;
  const c = new Cluster(t);
  t.teardown(() => removeContainers(`q.base=${join(c.dir, 'scratch-strict')}`));
  t.teardown(() => removeContainers(`q.base=${join(c.dir, 'scratch-open')}`));
  await c.startMaster();
  await c.startWorker('strict', ['-requireDocker', '-dockerImage', TEST_IMAGE, '-allowImages', 'q-test-*']);
  const networked = c.add(['-docker', TEST_IMAGE, '-network', '-add', 'echo networked']);
  const foreign = c.add(['-docker', 'elsewhere/image:1', '-add', 'echo foreign']);
  const plain = c.add(['-add', 'echo plain']);
  t.equal((await c.waitForStatus(plain, ['done', 'failed'], 30_000)).status, 'done', 'a job it allows runs, in its image');
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(c.row(networked)?.status, 'ready', 'a networked job waits: this worker gives containers no network');
  t.equal(c.row(foreign)?.status, 'ready', 'a job naming another image waits');
  // A worker that allows them takes them.
  await c.startWorker('open', ['-allowNetwork']);
  t.equal((await c.waitForStatus(networked, ['done', 'failed'], 30_000)).status, 'done', 'the networked job ran where networks are allowed');
  t.equal(c.row(networked)?.worker.split(' ')[0], 'open');
});
