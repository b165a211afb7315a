// Drives q the way CodaLab's own scripts/dispatch-q.py (codalab-worksheets 45f99fc1b, Python
// 2) does, against a `q` placed beside it: `start` changes into `/` and adds
// `bash REL/UUID.sh use_script_for_temp_dir` (the script's path made relative) with
// `-shareWorkingPath false`, every DIR/UUID* entry as -inPaths, DIR/UUID.action as a realtime
// input, -outPath DIR and -outFiles full:UUID*, and `-priority -- -P`; it takes the handle from
// the first line, `Job (J-.+) added successfully`. `info` is `q -list H... -tabs`, columns 0-6
// read as handle, "worker host", status, exit code, exit reason, time (an integer) and memory
// (an integer, MB). `kill` is `q -kill H`, `cleanup` is `q -del H`.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BIN_Q, Cluster, waitFor } from '../helpers/q.js';
import { writeBundle, writePlainBundle } from '../helpers/codalab.js';
import { containersWith, dockerReady, removeContainers } from '../helpers/docker.js';

/** The `q` beside the script: this q, pointed at the test's master. */
function placeQ(c: Cluster): string {
  const dir = join(c.dir, 'codalab-scripts');
  mkdirSync(dir, { recursive: true });
  const q = join(dir, 'q');
  // (-u NODE_OPTIONS: the test runner puts its own loader into every child's environment.)
  writeFileSync(q, `#!/bin/sh\nexec /usr/bin/env -u NODE_OPTIONS ${process.execPath} ${BIN_Q} -masterPort ${c.port} "$@"\n`);
  chmodSync(q, 0o755);
  return q;
}

function run(c: Cluster, q: string, args: string[], cwd: string): string {
  const r = spawnSync(q, args, { cwd, env: c.env, encoding: 'utf8', timeout: 30_000 });
  // check_output: a non-zero exit is an exception in the original.
  if (r.status !== 0) throw new Error(`q ${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** `dispatch-q.py start --request-time 600 --request-memory 512MiB --request-priority 3 SCRIPT`. */
function start(c: Cluster, q: string, script: string): string | null {
  const dir = dirname(script);
  const uuid = basename(script).split('.')[0]!;
  const args = ['-time', '600s', '-mem', '512m', '-priority', '--', '-3', '-shareWorkingPath', 'false'];
  args.push('-inPaths', ...readdirSync(dir).filter((f) => f.startsWith(uuid)).map((f) => `${dir}/${f}`));
  args.push('-realtimeInPaths', `${dir}/${uuid}.action`, '-outPath', dir, '-outFiles', `full:${uuid}*`);
  const out = run(c, q, [...args, '-add', 'bash', script.slice(1), 'use_script_for_temp_dir'], '/');
  return /^Job (J-.+) added successfully/.exec(out)?.[1] ?? null;
}

interface Info {
  handle: string;
  hostname?: string;
  state: string;
  exitcode?: number;
  exitreason?: string;
  time?: number;
  memory?: number;
}

/** `dispatch-q.py info H...`, parsed column by column as the original does. */
function info(c: Cluster, q: string, handles: string[]): Info[] {
  const out = run(c, q, ['-list', ...handles, '-tabs'], '/');
  const strictInt = (s: string) => {
    if (!/^-?\d+$/.test(s)) throw new Error(`int('${s}') fails in Python`);
    return Number(s);
  };
  return out.trim().split('\n').filter((l) => l !== '').map((line) => {
    const tokens = line.split('\t');
    const i: Info = { handle: tokens[0]!, state: tokens[2] === 'running' ? 'running' : 'queued' };
    if (tokens[1]) i.hostname = tokens[1].split(/\s+/).filter(Boolean).at(-1)!;
    if (tokens[3]) i.exitcode = strictInt(tokens[3]);
    if (tokens[4]) i.exitreason = tokens[4];
    if (tokens[5] && tokens[5] !== '-1') i.time = strictInt(tokens[5]);
    if (tokens[6] && tokens[6] !== '-1') i.memory = strictInt(tokens[6]) * 1024 * 1024;
    return i;
  });
}

async function ended(c: Cluster, q: string, handle: string, timeoutMs = 30_000): Promise<Info> {
  return waitFor(`${handle} to have an exit code`, () => {
    const i = info(c, q, [handle])[0];
    return i && i.exitcode !== undefined ? i : undefined;
  }, timeoutMs, 300);
}

t.test("dispatch-q.py's call shapes: a staged bundle run from / with a relative script path", async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('cw');
  const q = placeQ(c);
  const store = join(c.dir, 'bundles');
  const script = writePlainBundle(store, '0x0a1', 'pwd; cat dep.txt; echo ran');
  const handle = start(c, q, script);
  t.ok(handle, 'the handle read from the first line');
  const view = JSON.parse(c.q(['-list', handle!, '-json']).stdout)[0];
  t.equal(view.priority, -3, '-priority -- -3: the value after -- is a value, not an option');
  t.equal(view.workingPath, '/', 'its working directory is /');
  const i = await ended(c, q, handle!);
  t.match(i, { handle, state: 'queued', exitcode: 0, hostname: /\S/ }, i.exitreason ?? '');
  t.ok(i.time !== undefined, `time parses as an integer, memory as one or -1: ${JSON.stringify(i)}`);
  const stdout = readFileSync(join(store, '0x0a1', 'stdout'), 'utf8');
  t.match(stdout, /a dependency\nran\n$/, 'the bundle ran in its staged directory and its stdout came back');
  t.ok(stdout.startsWith(join(c.dir, 'scratch-cw')), `it ran in the worker's copy (${stdout.split('\n')[0]})`);

  // A second bundle on the same worker: the first one's mirror stays shared, as in fig's q.
  const s2 = writePlainBundle(store, '0x0a2', 'ls ..; sleep 30');
  const h2 = start(c, q, s2)!;
  await c.waitForStatus(h2, ['running']);
  t.equal(run(c, q, ['-kill', h2], '/'), 'Requested workers to kill 1/1 jobs\n');
  const i2 = await ended(c, q, h2);
  t.not(i2.exitcode, 0, `killed: ${i2.exitreason}`);
  t.equal(run(c, q, ['-del', handle!], '/'), 'Deleted 1/1 jobs\n');
  t.same(info(c, q, [handle!]), [], 'cleanup removed the job');
  t.match(readFileSync(join(store, '0x0a2', 'stdout'), 'utf8'), /0x0a1/, "the bundles' directories are shared by one worker's jobs");
});

t.test("dispatch-q.py's call shapes with CodaLab's Docker script: lines containing docker, kill by q -kill", async (t) => {
  if (!dockerReady(t)) return;
  const c = new Cluster(t);
  const label = `q-codalab-original=${c.dir}`;
  t.teardown(() => removeContainers(label));
  await c.startMaster();
  await c.startWorker('cw', ['-slots', '2']);
  const q = placeQ(c);
  const store = join(c.dir, 'bundles');
  const handles = ['0xb01', '0xb02', '0xb03'].map((u) => start(c, q, writeBundle(store, u, 'cat /proc/self/cgroup; cat dep.txt', label))!);
  for (const [n, h] of handles.entries()) {
    const i = await ended(c, q, h);
    t.equal(i.exitcode, 0, i.exitreason ?? `run ${n}`);
    const stdout = readFileSync(join(store, `0xb0${n + 1}`, 'stdout'), 'utf8');
    t.match(stdout, /docker/, `run ${n}: cgroup lines of a container`);
    t.match(stdout, /a dependency/, `run ${n}: its dependency was there`);
  }
  // `cl kill`: the work manager writes `kill` into DIR/UUID.action; the realtime input reaches
  // the worker's copy and the script's own loop kills its container.
  const long = start(c, q, writeBundle(store, '0xb09', 'sleep 60', label))!;
  await waitFor('its container', () => containersWith(label).length === 1, 30_000, 200);
  writeFileSync(join(store, '0xb09.action'), 'kill\n');
  const k = await ended(c, q, long);
  t.not(k.exitcode, 0);
  t.match(readFileSync(join(store, '0xb09', 'stderr'), 'utf8'), /Received kill command/);
  await waitFor('no container left', () => containersWith(label).length === 0, 15_000);
  t.pass('no container left');
});
