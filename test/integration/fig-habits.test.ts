// What a user of fig's q still types, run against bin/q: fig's prefixes, fig's -state FILE,
// a master whose state is not in ~/.q, options typed after -add, dispatch-q --help.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Cluster, cleanEnv } from '../helpers/q.js';

t.test("fig's prefixes from the command line", async (t) => {
  const c = new Cluster(t, t.testdir());
  await c.startMaster();
  const h = c.add(['-add', 'true']);
  t.match(c.q(['-l', '-he']).stdout, new RegExp(`^handle\\s+worker\\s+status[\\s\\S]*${h}`), '-l -he: -list -headers');
  const pretend = c.q(['-p', '-n', '2', '-add', 'echo hi']);
  t.equal(pretend.code, 0);
  t.equal(pretend.stdout.match(/J-xxxxxx/g)?.length, 2, '-p -n 2: -pretend -numTimes 2');
});

t.test('-state FILE (fig kept a YAML file) is one clear line; a master with -state DIR is found without it', async (t) => {
  const dir = t.testdir();
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
  const c = new Cluster(t, t.testdir());
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
