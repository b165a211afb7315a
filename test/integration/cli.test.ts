import t, { type Test } from 'tap';
import { createServer } from 'node:net';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { BIN_Q, Cluster, freePort } from '../helpers/q.js';
import { spawnSync } from 'node:child_process';

/** A user's mistake: one line on stderr, a non-zero exit, no stack trace. */
function oneLineError(t: Test, r: { code: number | null; stderr: string; stdout: string }, re: RegExp) {
  t.not(r.code, 0, 'non-zero exit');
  t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  t.match(r.stderr, re);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

t.test('option mistakes need no master and get one clear line', async (t) => {
  const c = new Cluster(t);
  oneLineError(t, c.q(['-frobnicate']), /^q: unknown option -frobnicate/);
  oneLineError(t, c.q(['-me', '5', '-add', 'true']), /^q: -me is ambiguous; possible matches: -mem -memGrace$/m);
  oneLineError(t, c.q(['-mem', 'lots', '-add', 'true']), /^q: bad -mem 'lots'/);
  oneLineError(t, c.q(['-time', '2w', '-add', 'true']), /^q: bad -time '2w'/);
  oneLineError(t, c.q(['-priority', 'high', '-add', 'true']), /^q: -priority needs an integer, not 'high'/);
  oneLineError(t, c.q(['-w', '-tabs', 'running']), /^q: -tabs takes true or false, not 'running'/);
  oneLineError(t, c.q(['-startWorkers', '3']), /^q: -startWorkers starts workers on Slurm only: add -slurm/);
  oneLineError(t, c.q(['-mode', 'boss']), /^q: -mode must be master, worker or client/);
  oneLineError(t, c.q(['-specPath', 'nope.yaml', '-add', 'true']), /^q: spec file .*nope\.yaml does not exist/);
  // A negative time is a bad time, not an unknown option; options alone do nothing, said with q:.
  oneLineError(t, c.q(['-time', '-5m', '-add', 'true']), /^q: bad -time '-5m': use e\.g\. 30s/);
  const alone = c.q(['-mem', '2g']);
  oneLineError(t, alone, /^q: nothing to do: options alone add nothing/);
  t.equal(alone.code, 2);
  oneLineError(t, c.q(['-tags', '-add', 'true']), /^q: -tags needs at least one value$/m);
  oneLineError(t, c.q(['-after', '-add', 'true']), /^q: -after needs at least one value$/m);
});

t.test('-help prints the options of the mode', async (t) => {
  const c = new Cluster(t);
  const r = c.q(['-help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /-add/);
  t.match(r.stdout, /-workerHandle/);
  t.notMatch(r.stdout, /--add/);
  const w = c.q(['-mode', 'worker', '-help']);
  t.match(w.stdout, /-slots/);
  t.match(r.stdout, /^q \[options\]/, 'the usage line names q, as typed');
  t.match(w.stdout, /^q -mode worker \[options\]/);
  t.match(r.stdout, /'--account=lab --qos=low'/, "sbatch's own spelling");
});

t.test('an unreachable master is an error within 2 s, not a hang', async (t) => {
  const c = new Cluster(t);
  writeFileSync(join(c.dir, 'token'), 'x');
  // Nothing listens: refused at once.
  c.port = await freePort();
  // The upper bounds tell an answer from a hang, with room for a slow machine; the refusal and
  // the wait are told apart by their messages. A slower machine can only make the wait longer.
  const HANG_MS = 15_000;
  let start = Date.now();
  oneLineError(t, c.q(['-token', 'x', '-list']), /cannot reach the master at 127\.0\.0\.1:\d+: nothing is listening/);
  t.ok(Date.now() - start < HANG_MS, `took ${Date.now() - start}ms`);
  // Something listens but never answers.
  const silent = createServer(() => {}).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  t.teardown(() => silent.close());
  c.port = (silent.address() as { port: number }).port;
  start = Date.now();
  oneLineError(t, c.q(['-token', 'x', '-list']), /no answer from the master at 127\.0\.0\.1:\d+ within 2s/);
  const waited = Date.now() - start;
  t.ok(waited >= 2000 && waited < HANG_MS, `it waited its 2 s, and no longer than a hang would (took ${waited}ms)`);
});

t.test('token: created 0600 by the master, required of everyone', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  t.equal(statSync(join(c.state, 'token')).mode & 0o777, 0o600);
  t.equal(c.q(['-list']).code, 0, 'a client on the same machine finds the token');
  oneLineError(t, c.q(['-token', 'wrong', '-list']), /refused the connection: wrong or missing token/);
  oneLineError(t, c.q(['-list'], { env: { Q_TOKEN: 'wrong' } }), /wrong or missing token/);
  await c.master!.waitForOutput(/Refused a client from 127\.0\.0\.1: wrong or missing token/);
  t.pass("the master logged the refusal");
});

t.test('malformed and hostile frames never crash the master or change a job', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const h = c.add(['-add', 'true']);
  const token = c.q(['-list']).code === 0 ? (await import('node:fs')).readFileSync(join(c.state, 'token'), 'utf8').trim() : '';
  for (const role of ['client', 'worker']) {
    const ws = new WebSocket(`ws://127.0.0.1:${c.port}/`, { headers: { authorization: `Bearer ${token}`, 'x-q-role': role } });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const answers: string[] = [];
    ws.on('message', (d) => answers.push((d as Buffer).toString()));
    const frames = [
      'not json',
      '{}',
      '[]',
      'null',
      JSON.stringify({ type: 'add', id: 1 }),
      JSON.stringify({ type: 'delete', id: 'x', specs: ['all'] }),
      JSON.stringify({ type: 'finished', handle: h, lease: 'forged', result: { exitCode: 0, exitReason: null, realTime: 1, userTime: 1, maxMem: 1, maxDisk: 1 } }),
      JSON.stringify({ type: 'started', handle: 'J-zzzzzz', lease: 'x' }),
      Buffer.alloc(100, 0xff),
    ];
    for (const f of frames) ws.send(f);
    await new Promise((r) => setTimeout(r, 300));
    t.ok(answers.length >= 1, `${role}: errors were answered`);
    ws.close();
  }
  // An oversized frame closes that connection and nothing else.
  const big = new WebSocket(`ws://127.0.0.1:${c.port}/`, { headers: { authorization: `Bearer ${token}`, 'x-q-role': 'client' } });
  await new Promise((r, j) => big.once('open', r).once('error', j));
  const closed = new Promise<number>((r) => big.once('close', (code) => r(code)));
  big.on('error', () => {});
  big.send('x'.repeat(9 * 1024 * 1024));
  // 1009 "message too big"; 1006 when the reset arrives while the client is still sending.
  const code = await closed;
  t.ok(code === 1009 || code === 1006, `the connection was closed (${code})`);
  t.equal(c.row(h)?.status, 'ready', 'the job is unchanged');
  t.equal(c.q(['-list']).code, 0, 'the master still answers');
});

t.test('-add - reads commands from stdin; -numTimes repeats each', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const r = c.q(['-numTimes', '2', '-add', '-'], { input: 'echo a\n\necho b c\necho d\n' });
  t.equal(r.code, 0);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.length, 6);
  for (const l of lines) t.match(l, /^Job J-[0-9a-z]{6} added successfully$/);
  const cmds = c.q(['-list', '-tabs']).stdout.trim().split('\n').map((l) => l.split('\t')[9]);
  t.same(cmds, ['echo a', 'echo a', 'echo b c', 'echo b c', 'echo d', 'echo d']);
});

t.test('-pretend and -direct need no master', async (t) => {
  const c = new Cluster(t);
  const p = c.q(['-pretend', '-priority', '3', '-mem', '2g', '-tags', 'x', 'y', '-add', 'echo', 'hi']);
  t.equal(p.code, 0);
  t.match(p.stdout, /^J-xxxxxx : \d\d\/\d\d \d\d:\d\d \[ready\] \{x,y\}: echo hi$/m);
  t.match(p.stdout, /limits: time 2d0h, mem 2048m \* 1, disk 10g, priority 3/);
  const d = c.q(['-direct', 'echo', 'direct', 'run']);
  t.equal(d.code, 0);
  t.equal(d.stdout, 'direct run\n');
  t.equal(c.q(['-direct', 'exit 7']).code, 7);
  // Several words are a program and its arguments, passed as they are.
  t.equal(c.q(['-direct', 'printf', '[%s]\\n', 'a b', 'c']).stdout, '[a b]\n[c]\n');
  t.equal(c.q(['-direct', 'sh', '-c', 'kill -KILL $$']).code, 137, 'KILL is 137');
  t.equal(c.q(['-direct', 'sh -c "kill -TERM \\$\\$"']).code, 143, 'TERM is 143');
  const missing = c.q(['-direct', 'no-such-command-q', 'x']);
  t.equal(missing.code, 2);
  t.equal(missing.stderr, 'q: -direct: cannot run no-such-command-q: no such command\n');
});

t.test('job.spec YAML sets any job field; the command line wins', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  writeFileSync(join(c.dir, 'job.spec'), 'priority: 2\nlimitTime: 10m\nmem: 3g\ntags: [fromfile]\n');
  const h = c.add(['-mem', '1g', '-add', 'true']);
  const [job] = JSON.parse(c.q(['-list', h, '-json']).stdout);
  t.equal(job.priority, 2);
  t.equal(job.time, 600);
  t.equal(job.mem, 1024, 'command line beats the file');
  t.same(job.tags, ['fromfile']);
  t.equal(c.q(['-list', 'tag:fromfile', '-tabs']).stdout.split('\t')[0], h);
  writeFileSync(join(c.dir, 'bad.spec'), 'prority: 2\n');
  oneLineError(t, c.q(['-specPath', 'bad.spec', '-add', 'true']), /unknown field 'prority'/);
});

t.test('outPoolPath gives each job a fresh N.exec; _OUTPATH_ is replaced', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const pool = join(c.dir, 'pool');
  (await import('node:fs')).mkdirSync(join(pool, '0.exec'), { recursive: true });
  writeFileSync(join(c.dir, 'pool.spec'), `outPoolPath: ${pool}\n`);
  const r = c.q(['-specPath', 'pool.spec', '-numTimes', '2', '-add', 'echo', '_OUTPATH_']);
  t.match(r.stdout, new RegExp(`^${pool}/1\\.exec\\n${pool}/2\\.exec\\n`));
  const jobs = JSON.parse(c.q(['-list', '-json']).stdout);
  t.same(jobs.map((j: { command: string }) => j.command), [`echo ${pool}/1.exec`, `echo ${pool}/2.exec`]);
  t.equal(c.q(['-list', 'outPath:2.exec', '-tabs']).stdout.split('\t')[8], '2.exec');
});

t.test('spec filters: commas AND, arguments OR', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const a = c.add(['-tags', 'red', '-add', 'echo', 'one']);
  const b = c.add(['-tags', 'red', 'big', '-add', 'echo', 'two']);
  const d = c.add(['-tags', 'blue', '-add', 'echo', 'three']);
  const handles = (args: string[]) =>
    c.q(['-list', ...args, '-tabs']).stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
  t.same(handles(['tag:red']), [a, b]);
  t.same(handles(['tag:red,tag:big']), [b]);
  t.same(handles(['tag:big', 'tag:blue']), [b, d]);
  t.same(handles(['cmd:three']), [d]);
  t.same(handles(['two']), [b], 'bare value matches an argument of the command');
  t.same(handles(['blue']), [d], 'bare value matches a tag');
  t.same(handles([a]), [a], 'bare value matches a handle');
  t.same(handles(['status:ready,tag:red']), [a, b]);
  t.same(handles(['all']), [a, b, d]);
  t.same(handles(['thr']), [], 'cmd matches whole arguments only');
});

t.test('-w shows workers; -json on read commands', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('wq', ['-slots', '3']);
  const w = c.q(['-w', '-headers']).stdout.split('\n');
  // fig's columns in fig's order, then q's: `cut -f4` is the status, as it was in fig.
  t.match(w[0], /^handle\s+hostname\s+version\s+status\s+pendingAction\s+numCPUs\s+cpuSpeed\s+freeMem\s+freeDisk\s+procSummary\s+ping\s+job\s+slots\s+docker\s+gpus\s+queues\s+isolation$/);
  const tabs = c.q(['-w', '-tabs']).stdout.trim().split('\t');
  t.same([tabs[0], tabs[2], tabs[3], tabs[4], tabs[12]], ['wq', JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version, 'idle', '', '0/3']);
  const h = c.add(['-add', 'sleep 5']);
  await c.waitForStatus(h, ['running']);
  t.equal(c.q(['-w', '-tabs']).stdout.trim().split('\t')[11], `${h}: [] sleep 5`, "fig's job column");
  const [info] = JSON.parse(c.q(['-w', '-json']).stdout);
  t.equal(info.handle, 'wq');
  t.equal(info.slots, 3);
  t.ok(info.resources.freeMem > 0);
  t.ok(info.resources.cpus > 0);
  oneLineError(t, c.q(['-log', 'J-000000']), /^q: no job J-000000$/m);
});

t.test('the first hour: help and version as every CLI has them, a typo gets a suggestion, a mistake one line', async (t) => {
  const c = new Cluster(t);
  // As typed, alone (c.q would add -masterPort).
  const alone = (argv: string[]) => spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, BIN_Q, ...argv], { env: c.env, encoding: 'utf8' });
  for (const argv of [['-h'], ['--help'], ['help'], ['-help']]) {
    const r = alone(argv);
    t.equal(r.status, 0, argv.join(' '));
    t.match(r.stdout, /^q \[options\]/, `${argv.join(' ')}: the help`);
  }
  for (const argv of [['--version'], ['-version'], ['version']]) t.match(alone(argv), { status: 0, stdout: /^q \d+\.\d+\.\d+\n$/ }, argv.join(' '));
  oneLineError(t, c.q(['-lsit']), /^q: unknown option -lsit: did you mean -list\? \(see q -help\)\n$/);
  await c.startMaster();
  t.equal(c.q(['--list']).code, 0, '--list is -list');
  oneLineError(t, c.q(['-list', 'status:runing']), /^q: -list: status:runing is no status \(held, ready, assigned, init, running, done, failed\)\n$/);
  t.equal(c.q(['-list', 'status:runing']).code, 2);
  for (const action of ['-kill', '-rerun', '-delete', '-hold', '-release']) {
    const r = c.q([action, 'J-zzzzzz']);
    oneLineError(t, r, new RegExp(`^q: ${action} J-zzzzzz: no job matches\n$`));
    t.equal(r.code, 2);
    t.equal(r.stdout, '', `${action}: nothing on stdout`);
  }
  const h = c.add(['-add', 'ls', '-l']);
  t.equal(c.q(['-add', 'sh', '-c', 'true']).stderr, '', "a command's own short flags are no q options: no warning");
  // -last N: the N newest that match, oldest first, across pages of the master's.
  const more = c.q(['-quiet', '-hold', '-numTimes', '3', '-add', 'true']).stdout.trim().split('\n');
  t.same(c.q(['-list', '-last', '2', '-tabs']).stdout.trim().split('\n').map((l) => l.split('\t')[0]), more.slice(1), '-list -last 2');
  t.same(c.q(['-list', `handle:${h}`, '-last', '5', '-tabs']).stdout.trim().split('\n').map((l) => l.split('\t')[0]), [h], 'with a SPEC');
  oneLineError(t, c.q(['-last', '2']), /^q: -last goes with -list/);
  oneLineError(t, c.q(['-list', '-last', '0']), /^q: -last takes a number of jobs from 1/);
  const [view] = JSON.parse(c.q(['-list', '-json', h]).stdout);
  t.equal(view.handle, h, '-list -json J-x: the flag, then a SPEC');
  t.equal(view.command, 'ls -l');
  t.same(JSON.parse(c.q(['-list', h, '-json']).stdout).map((j: { handle: string }) => j.handle), [h]);
});
