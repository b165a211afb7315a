// A worker's tenure, as a pilot on a batch system lives: -lifetime (leave after so long
// without a job) and -walltime (live at most so long: take only jobs that fit in what is
// left, then leave). A worker that leaves says so, and the master forgets it at once.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

t.test('-lifetime: an idle worker leaves, exits 0, and -w lists it no more', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  // Added first, so it is the worker's from its hello; it runs past the worker's lifetime, and
  // the look comes while it is still running, whatever the machine's speed.
  const mark = join(c.dir, 'past-lifetime');
  const h = c.add(['-add', `sleep 3; touch ${mark}; sleep 2`]);
  const w = await c.startWorker('idle', ['-lifetime', '2s']);
  await waitFor('the job past the lifetime', () => existsSync(mark));
  t.equal(w.alive, true, 'busy: still here');
  await c.waitForStatus(h, ['done']);
  t.equal(await w.exited(), 0, 'then it left by itself');
  t.match(w.out, /Leaving: idle for 2s \(-lifetime\)/);
  await c.master!.waitForOutput(/Worker idle left/);
  t.equal(c.q(['-w', '-tabs']).stdout, '', 'forgotten, not away');
});

t.test('-walltime: only jobs that fit in what is left; then it leaves, and what did not fit waits', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const long = c.add(['-time', '1m', '-add', 'true']);
  const short = c.add(['-time', '3s', '-add', 'true']);
  // 16 s, less two heartbeats and 5 s in hand: it takes jobs of up to ~9 s, so the 3 s one if
  // it reaches the worker within ~6 s of its start, however slow the machine.
  const w = await c.startWorker('pilot', ['-walltime', '16s']);
  await c.waitForStatus(short, ['done']);
  t.equal(await w.exited(), 0, 'it left before its walltime was up');
  t.match(w.out, /Leaving: its walltime \(16s\) is nearly over/);
  t.equal(c.row(long)?.status, 'ready', 'the job that did not fit was never given to it');
  t.notMatch(c.master!.out, new RegExp(`${long}`), 'nor taken back from it');
  await waitFor('the pilot forgotten', () => c.q(['-w', '-tabs']).stdout === '');
});
