// What a job produced reaches its owner, or the job says it did not: never `done 0` with its
// outputs gone.
import t from 'tap';
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../helpers/q.js';

t.test('a missing outPath is made; refused and unwalkable outputs fail the job with the reason', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  // (-maxOutputEntries: 200,000 files take a minute to make on some disks)
  await c.startWorker('w', ['-slots', '3', '-maxOutputEntries', '2000']);
  // Made by the client at add, and by the master again if it went meanwhile.
  const made = c.add(['-outPath', 'results', '-outFiles', 'full:*', '-add', 'sleep 1; echo hi > results/a']);
  t.ok(existsSync(join(c.dir, 'results')), 'the add made the outPath');
  rmSync(join(c.dir, 'results'), { recursive: true });
  t.equal((await c.waitForStatus(made, ['done', 'failed'])).status, 'done');
  t.equal(readFileSync(join(c.dir, 'results', 'a'), 'utf8'), 'hi\n', 'the master made it again and wrote into it');
  // The master refuses to write through a link on its side: the job does not end done.
  const refused = c.add(['-outPath', 'res2', '-outFiles', 'full:sub', '-add', 'sleep 1; mkdir -p res2/sub; echo x > res2/sub/f']);
  symlinkSync('/tmp', join(c.dir, 'res2', 'sub'));
  const r = await c.waitForStatus(refused, ['done', 'failed']);
  t.equal(r.status, 'failed');
  t.equal(r.exitCode, '0', 'the command itself succeeded');
  t.match(r.exitReason, /^Outputs not delivered: sub.*is a link/);
  // More entries than a walk reads: said, not silently nothing.
  const big = c.add(['-outPath', 'res3', '-outFiles', 'full:*', '-add',
    'cd res3 && echo keep > keep.txt && mkdir many && cd many && seq 2001 | sed s/^/f/ | xargs touch'], { cwd: c.dir });
  const rb = await c.waitForStatus(big, ['done', 'failed']);
  t.equal(rb.status, 'failed');
  t.match(rb.exitReason, /^Outputs not delivered: .*holds more than 2000 entries/);
});
