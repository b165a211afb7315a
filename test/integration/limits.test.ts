// Input the master could not take is refused by the client in one line that names the limit
// (common/limits.ts, docs/cli.md "Limits"), before anything is sent.
import t from 'tap';
import { Cluster } from '../helpers/q.js';

t.test('an add over a limit is one clear line and exit 2; the master stays reachable', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const cases: [string[], RegExp][] = [
    [['-numTimes', '1e9', '-add', 'true'], /^q: one add makes at most 1000000 jobs, not 1 × 1000000000: split it$/],
    [['-numTimes', '1000001', '-add', 'true'], /^q: one add makes at most 1000000 jobs/],
    [['-memGrace', '1e308', '-add', 'true'], /^q: memGrace must be more than 0 and at most 100, not 1e\+308$/],
    [['-workerHandle', '', '-add', 'true'], /^q: -workerHandle needs a worker handle/],
    [['-add', '   '], /^q: a command is empty$/],
    [['-add', '-'], /^q: a command of \d+ bytes is longer than 1000000: put it in a script$/],
  ];
  for (const [args, re] of cases) {
    // (the long command through stdin: one argument may not hold 9 MB)
    const r = c.q(args, args[1] === '-' ? { input: 'echo ' + 'x'.repeat(9 * 1024 * 1024) } : {});
    t.equal(r.code, 2, `${args.slice(0, 2).join(' ')}: exit 2`);
    t.match(r.stderr.trim(), re);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  t.equal(c.q(['-list']).code, 0, 'the master still answers');
  // More than one request carries (some 20 MB): sent in batches, made as one add.
  const many = c.q(['-hold', '-add', '-'], { input: Array.from({ length: 30_000 }, (_, i) => `echo ${i} ${'y'.repeat(300)}`).join('\n') });
  t.equal(many.code, 0, many.stderr);
  t.equal(many.stdout.match(/added successfully/g)?.length, 30_000, 'every job of an add larger than a request');
});
