// Plays CodaLab's work manager against q through bin/dispatch-q: writes DIR/UUID.sh and
// DIR/UUID-internal.sh the way CodaLab does (the script starts `docker run` with a cidfile,
// mounts DIR/UUID, watches DIR/UUID.action for `kill`, writes stdout/stderr into DIR/UUID/),
// starts the run, polls `info` until its exit code appears, and reads the outputs that came
// back into DIR.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, waitFor } from '../helpers/q.js';
import { writeBundle } from '../helpers/codalab.js';
import { containersWith, dockerReady, removeContainers } from '../helpers/docker.js';

const DISPATCH = fileURLToPath(new URL('../../bin/dispatch-q', import.meta.url));

function dispatch(c: Cluster, args: string[]): { code: number | null; json: Record<string, any> } {
  const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, DISPATCH, ...args], {
    env: { ...c.env, Q_MASTER_PORT: String(c.port) },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, json: JSON.parse(r.stdout) };
}

async function finished(c: Cluster, handle: string, timeoutMs = 30_000) {
  return waitFor(`${handle} to report an exit code`, () => {
    const { json } = dispatch(c, ['info']);
    const info = json.infos.find((i: { handle: string }) => i.handle === handle);
    return info && 'exitcode' in info ? info : undefined;
  }, timeoutMs, 500);
}

t.test('the CodaLab chain: start, info, outputs back, kill by action file and by dispatch-q, cleanup', async (t) => {
  if (!dockerReady(t)) return;
  const c = new Cluster(t);
  const label = `q-codalab-test=${c.dir}`;
  t.teardown(() => removeContainers(label));
  const store = join(c.dir, 'bundles');
  mkdirSync(store);
  await c.startMaster();
  const worker = await c.startWorker('cw', ['-slots', '2']);

  const script = writeBundle(store, '0xabc', 'cat /proc/self/cgroup; cat dep.txt', label);
  const started = dispatch(c, ['start', '--request-time', '600', '--request-memory', String(512 * 1024 * 1024), '--request-priority', '3', script]);
  t.equal(started.code, 0);
  t.match(started.json, { handle: /^J-[0-9a-z]{6}$/, raw: /^Job J-\w+ added successfully\n$/ });
  const handle = started.json.handle as string;
  const view = JSON.parse(c.q(['-list', handle, '-json']).stdout)[0];
  t.equal(view.priority, 2, 'CodaLab priority 3 = q priority 5 - 3: higher runs sooner');
  t.equal(view.mem, 512);
  t.equal(view.time, 600);
  const info = await finished(c, handle);
  t.equal(info.exitcode, 0, info.exitreason);
  t.equal(info.state, 'queued', 'a finished run reads as queued with an exit code, as the old adapter said');
  t.ok(info.hostname, 'the worker host');
  t.ok(Number.isInteger(info.time), 'time in seconds');
  const stdout = readFileSync(join(store, '0xabc', 'stdout'), 'utf8');
  t.match(stdout, /docker/, 'the bundle stdout came back into DIR, with cgroup lines of a container');
  t.match(stdout, /a dependency/, 'inputs were there');

  // Killed through the action file, as CodaLab does.
  const s2 = writeBundle(store, '0xdef', 'sleep 60', label);
  const h2 = dispatch(c, ['start', s2]).json.handle as string;
  await waitFor('its container', () => containersWith(label).length === 1, 30_000, 200);
  writeFileSync(join(store, '0xdef.action'), 'kill\n');
  const i2 = await finished(c, h2);
  t.not(i2.exitcode, 0, `killed: exit ${i2.exitcode}`);
  t.match(readFileSync(join(store, '0xdef', 'stderr'), 'utf8'), /Received kill command/);
  await waitFor('no container left', () => containersWith(label).length === 0, 15_000);
  t.pass('the action-file kill left no container');

  // Killed through dispatch-q kill: the script's container ignores TERM; q stops it by its cid file.
  const s3 = writeBundle(store, '0xfed', 'sleep 60', label);
  const h3 = dispatch(c, ['start', s3]).json.handle as string;
  await waitFor('its container', () => containersWith(label).length === 1, 30_000, 200);
  const killed = dispatch(c, ['kill', h3]);
  t.same(killed.json, { handle: h3, raw: 'Requested workers to kill 1/1 jobs\n' });
  const i3 = await finished(c, h3);
  t.not(i3.exitcode, 0);
  t.match(i3.exitreason, /Killed/);
  await waitFor('no container left', () => containersWith(label).length === 0, 15_000);
  t.pass('dispatch-q kill left no container');
  t.match(worker.out, new RegExp(`Stopping container [0-9a-f]{12} of ${h3}`), 'stopped through its cid file');

  const all = dispatch(c, ['info']).json.infos.map((i: { handle: string }) => i.handle);
  t.same(all.sort(), [handle, h2, h3].sort(), 'info with no handles lists every job');
  t.same(dispatch(c, ['cleanup', handle]).json, { handle, raw: 'Deleted 1/1 jobs\n' });
  t.notOk(dispatch(c, ['info', handle]).json.infos.length, 'cleanup removed the job');
  t.ok(existsSync(join(store, '0xabc', 'stdout')), 'its outputs stay');
});

t.test('dispatch-q answers mistakes with one JSON line and a non-zero exit', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const bad = dispatch(c, ['start', join(c.dir, 'missing.sh')]);
  t.equal(bad.code, 1);
  t.match(bad.json, { handle: null, error: /missing\.sh does not exist/ });
  t.match(dispatch(c, ['frobnicate']).json, { error: /invalid mode: frobnicate/ });
  t.match(dispatch(c, ['start', '--request-memory', 'lots', join(c.dir, 'x.sh')]).json, { error: /--request-memory needs a number/ });
  // Killed before any worker took it: it ends, with an exit code, rather than running later.
  writeFileSync(join(c.dir, '0x1.sh'), 'true\n');
  // A negative CodaLab priority is a value, not an option (yargs read it so; so must we).
  const low = dispatch(c, ['start', '--request-priority', '-2', '--request-time', '60', join(c.dir, '0x1.sh')]);
  t.equal(low.code, 0, JSON.stringify(low.json));
  t.equal(JSON.parse(c.q(['-list', low.json.handle, '-json']).stdout)[0].priority, 7, 'CodaLab -2 = q 5 + 2');
  t.match(dispatch(c, ['start', '--bogus', 'x', join(c.dir, '0x1.sh')]).json, { error: /^Unknown option '--bogus'$/ });
  const queued = dispatch(c, ['start', join(c.dir, '0x1.sh')]).json.handle as string;
  t.same(dispatch(c, ['kill', queued]).json, { handle: queued, raw: 'Requested workers to kill 1/1 jobs\n' });
  t.match(dispatch(c, ['info', queued]).json.infos, [{ handle: queued, state: 'queued', exitcode: 143, exitreason: 'Killed before it started' }]);
  const away = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, DISPATCH, '--master-port', '1', '--wait', '1', 'info'], { env: c.env, encoding: 'utf8' });
  t.equal(away.status, 1);
  t.match(JSON.parse(away.stdout), { error: /cannot reach the master/ });
  t.equal(away.stderr, '', 'no trace');
});

/** dispatch-q run in the background: its exit code and JSON once it ends. */
function dispatchLater(c: Cluster, args: string[]): Promise<{ code: number | null; json: Record<string, any>; ms: number }> {
  const began = Date.now();
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, DISPATCH, ...args], {
    env: { ...c.env, Q_MASTER_PORT: String(c.port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, json: JSON.parse(out), ms: Date.now() - began })));
}

t.test('dispatch-q waits for a master that is restarted: info, kill and cleanup across a kill -9', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w');
  writeFileSync(join(c.dir, '0x2.sh'), 'sleep 30\n');
  const h = dispatch(c, ['start', '--share-working-path', join(c.dir, '0x2.sh')]).json.handle as string;
  await c.waitForStatus(h, ['running']);
  await c.master!.stop('SIGKILL');
  const during = dispatchLater(c, ['info', h]);
  const failsAtOnce = dispatchLater(c, ['--wait', '0', 'info', h]);
  await new Promise((r) => setTimeout(r, 1500));
  await c.startMaster();
  const info = await during;
  t.equal(info.code, 0, 'info answered once the master was back');
  t.match(info.json.infos, [{ handle: h, state: 'running' }], 'the running bundle, as before the restart');
  t.ok(info.ms >= 1200, `it waited (${info.ms} ms)`);
  const now = await failsAtOnce;
  t.equal(now.code, 1, '--wait 0: fails at once');
  t.match(now.json, { error: /cannot reach the master/ });
  await c.master!.stop('SIGKILL');
  const kill = dispatchLater(c, ['kill', h]);
  await new Promise((r) => setTimeout(r, 1000));
  await c.startMaster();
  t.same((await kill).json, { handle: h, raw: 'Requested workers to kill 1/1 jobs\n' });
  await c.waitForStatus(h, ['done', 'failed']);
  await c.master!.stop('SIGKILL');
  const cleanup = dispatchLater(c, ['cleanup', h]);
  await new Promise((r) => setTimeout(r, 1000));
  await c.startMaster();
  t.same((await cleanup).json, { handle: h, raw: 'Deleted 1/1 jobs\n' });
});
