// A pilot's -walltime is cut from the time limit Slurm will hold it to: -slurmArgs' own --time
// when it has one (it replaces q's in the script), else -workerTime. Read from -pretend's
// script, so no Slurm is needed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { BIN_Q, cleanEnv } from '../helpers/q.js';

const script = (...args: string[]) =>
  spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, BIN_Q, '-startWorkers', '1', '-slurm', '-pretend', '-token', 'x', '-basePath', '/tmp/p', ...args], {
    env: cleanEnv(),
    encoding: 'utf8',
  });

t.test("-slurmArgs' --time is the pilot's limit, and its -walltime comes from it", async (t) => {
  const r = script('-slurmArgs', '--time=10');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^#SBATCH --time=10$/m);
  t.notMatch(r.stdout, /--time=0-/, "q's own --time left out");
  t.match(r.stdout, / -walltime 540s /, '10 minutes less a tenth');
});

t.test('without it, -workerTime sets both', async (t) => {
  const r = script('-workerTime', '2h');
  t.match(r.stdout, /^#SBATCH --time=0-02:00:00$/m);
  t.match(r.stdout, / -walltime 6900s /, '2 hours less 5 minutes');
});

t.test('a --time Slurm would not read is one error line', async (t) => {
  const r = script('-slurmArgs', '--time=banana');
  t.equal(r.status, 2);
  t.equal(r.stderr, 'q: -slurmArgs: --time banana is not a Slurm time\n');
});

t.test("the pilot runs this checkout's bin/q (the client is bundled: a path in it is relative to where the bundle lies)", async (t) => {
  const r = script('-workerTime', '1h');
  t.equal(r.status, 0, r.stderr);
  // A word of the script as the shell reads it: bare, or in single quotes (a path with a space).
  const exec = /^exec (?:'[^']*'|\S+) ('[^']*'|\S+) -mode worker /m.exec(r.stdout);
  t.equal(exec?.[1]?.replace(/^'(.*)'$/, '$1'), BIN_Q);
});
