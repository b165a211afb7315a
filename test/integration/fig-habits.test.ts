// What a user of fig's q still types, run against bin/q: fig's prefixes, fig's -state FILE,
// and a master whose state is not in ~/.q.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
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
