// What a user of fig's q still types, run against bin/q: fig's prefixes, fig's -state FILE,
// a master whose state is not in ~/.q, options typed after -add, dispatch-q --help.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Cluster, cleanEnv, scratchDir, waitFor } from '../helpers/q.js';

t.test("fig's prefixes from the command line", async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const h = c.add(['-add', 'true']);
  t.match(c.q(['-l', '-he']).stdout, new RegExp(`^handle\\s+worker\\s+status[\\s\\S]*${h}`), '-l -he: -list -headers');
  const pretend = c.q(['-p', '-n', '2', '-add', 'echo hi']);
  t.equal(pretend.code, 0);
  t.equal(pretend.stdout.match(/J-xxxxxx/g)?.length, 2, '-p -n 2: -pretend -numTimes 2');
});

t.test('-state FILE (fig kept a YAML file) is one clear line; a master with -state DIR is found without it', async (t) => {
  const dir = scratchDir(t);
  const home = join(dir, 'home');
  mkdirSync(home);
  writeFileSync(join(dir, 'q.state'), 'jobs: []\n');
  // A user's own environment: HOME, no Q_STATE; the master's state elsewhere.
  const c = new Cluster(t, dir, { env: cleanEnv({ HOME: home }) });
  const file = c.q(['-mode', 'master', '-state', join(dir, 'q.state')]);
  t.equal(file.code, 2);
  t.equal(file.stderr, `q: -state ${join(dir, 'q.state')} is a file: q keeps its state in a directory (database, token, logs), e.g. -state ~/.q\n`);
  await c.startMaster(['-state', join(dir, 'elsewhere')]);
  const r = c.q(['-list', '-headers']);
  t.equal(r.code, 0, `a client with no -state finds the token: ${r.stderr}`);
  t.match(r.stdout, /^handle/);
  await c.master!.stop('SIGTERM');
  const gone = c.q(['-list']);
  t.match(gone.stderr, /give -state DIR as the master was given it|cannot reach the master/);
});

t.test('words inside -add that q options start with stay in the command, with one warning', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const r = c.q(['-add', 'echo', 'hi', '-prio', '1', '-tag', 'x']);
  t.match(r.stdout, /added successfully/);
  t.equal(r.stderr, 'q: warning: -prio -tag stayed in the command; q options go before -add (or put -- before such a word to silence this)\n');
  const h = /J-[0-9a-z]{6}/.exec(r.stdout)![0];
  t.match(JSON.parse(c.q(['-info', h, '-json']).stdout)[0], { command: 'echo hi -prio 1 -tag x', priority: 5 }, 'as typed, priority untouched');
  t.equal(c.q(['-add', 'echo', '--', '-prio']).stderr, '', '-- silences it');
  t.equal(c.q(['-add', 'echo', 'plain', 'words']).stderr, '');
});

t.test('dispatch-q --help prints its usage', async (t) => {
  const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, fileURLToPath(new URL('../../bin/dispatch-q', import.meta.url)), '--help'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.match(r.stdout, /^usage: dispatch-q .*\n\s+start /);
});

t.test('-resetWorkers empties a basePath once its worker is idle; -clearWorkers forgets workers that are away', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const w = await c.startWorker('w1');
  const base = join(c.dir, 'scratch-w1');
  const mirror = join(base, 'mirror');
  const outside = join(c.dir, 'outside');
  writeFileSync(outside, 'keep me\n');
  mkdirSync(join(mirror, 'left', 'over'), { recursive: true });
  writeFileSync(join(mirror, 'left', 'over', 'input'), 'old\n');
  symlinkSync(outside, join(mirror, 'link'));
  writeFileSync(join(base, 'old-layout'), 'what a version that mirrored at the base itself left\n');
  const h = c.add(['-add', 'sleep 3']);
  await c.waitForStatus(h, ['running']);
  t.equal(c.q(['-resetWorkers', 'w1']).stdout, '1 workers to be cleared\n');
  t.equal(c.q(['-w', '-tabs']).stdout.split('\t')[4], 'clear', '-w: pending while it runs a job');
  t.ok(existsSync(join(mirror, 'left')), 'nothing removed under a running job');
  await c.waitForStatus(h, ['done']);
  await waitFor('the reset', () => !existsSync(join(mirror, 'left')), 15_000);
  t.same(readdirSync(base).sort(), ['.q', 'mirror'], 'all but its own records');
  t.same(readdirSync(mirror), [], 'the mirror emptied');
  t.equal(readFileSync(outside, 'utf8'), 'keep me\n', 'a link went, not what it named');
  await waitFor('-w to show it done', () => c.q(['-w', '-tabs']).stdout.split('\t')[4] === '', 10_000);
  t.match(c.master!.out, /Worker w1 emptied its basePath \(4 entries\)/, "the inputs left, the link, the job's working directory, the old layout's leftover");

  t.equal(c.q(['-clearWorkers']).stdout, 'Removed 0 workers that were away; connected ones stay\n');
  await w.stop();
  await waitFor('the worker away', () => /\taway\t/.test(c.q(['-w', '-tabs']).stdout), 10_000);
  t.equal(c.q(['-clearWorkers']).stdout, 'Removed 1 workers that were away; connected ones stay\n');
  t.equal(c.q(['-w', '-tabs']).stdout, '', 'forgotten');
});

t.test('-verbose: 0 only warnings, 1 what happens, 2 every message both ways; on client, master and worker', async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster(['-verbose', '2']);
  const worker = await c.startWorker('w1', ['-verbose', '2']);
  await master.waitForOutput(/← worker \S+ \{"type":"workerHello","handle":"w1"/);
  await worker.waitForOutput(/→ master \{"type":"workerHello"/);
  await worker.waitForOutput(/← master \{"type":"welcome"/);

  const traced = c.q(['-verbose', '2', '-list']);
  t.equal(traced.code, 0);
  t.equal(traced.stdout, '', 'the answer is as without -verbose');
  t.match(traced.stderr, /^q: connecting to ws:\/\/127\.0\.0\.1:\d+\/\nq: → master \{"type":"list",.*"id":1\}\nq: ← master \{"type":"jobRows","id":1,"rows":\[\],"last":true\}\n$/);
  await master.waitForOutput(/← client 127\.0\.0\.1:\d+ \{"type":"list"/);
  await master.waitForOutput(/→ client 127\.0\.0\.1:\d+ \{"type":"jobRows"/);

  // A frame is one line, however big: a long command is cut.
  const h = c.add(['-verbose', '2', '-add', 'echo', 'x'.repeat(2000)]);
  await c.waitForStatus(h, ['done']);
  const assign = (await master.waitForOutput(/→ worker w1 \{"type":"assign".*\n/))[0];
  t.match(assign, /… \(\d{4} bytes\)\n$/, 'cut, with its size');
  t.ok(assign.length < 400);
  t.equal(c.q(['-list', h]).code, 0);
  t.notMatch(c.q(['-list']).stderr, /master/, '-verbose 1 (the default) traces nothing');

  // -verbose 0: the ordinary lines go, the warnings stay.
  await worker.stop();
  await master.stop();
  const quiet = c.spawnQ(['-mode', 'master', '-masterPort', String(c.port), '-verbose', '0']);
  await waitFor('the quiet master', () => c.q(['-list']).code === 0);
  const w0 = c.spawnQ(['-mode', 'worker', '-masterPort', String(c.port), '-verbose', '0', '-handle', 'w0', '-basePath', join(c.dir, 'w0')]);
  await waitFor('w0 connected', () => /^w0\t/m.test(c.q(['-w', '-tabs']).stdout));
  t.equal(c.q(['-token', 'not-the-token', '-list']).code, 2);
  await quiet.waitForOutput(/Refused a client from 127\.0\.0\.1: wrong or missing token/);
  t.notMatch(quiet.out, /=====|Worker w0 connected/, 'no banner, no worker events');
  t.notMatch(w0.out, /=====|Running|Connecting/, 'the worker says nothing ordinary');

  const bad = c.q(['-verbose', 'loud', '-list']);
  t.equal(bad.code, 2);
  t.equal(bad.stderr, "q: -verbose takes 0, 1 or 2, not 'loud'\n");
});
