// A second master on the same state directory would take the first one's workers for lost
// and run every job twice: it is refused in one line naming the first. A busy port is one
// line too, never a stack trace.
import t from 'tap';
import { join } from 'node:path';
import { Cluster } from '../helpers/q.js';

t.test('a second master on one state directory is refused; a busy port is one clear line', async (t) => {
  const c = new Cluster(t);
  const first = await c.startMaster();
  await c.startWorker('w');
  const same = c.spawnQ(['-mode', 'master', '-masterPort', '0']);
  t.equal(await same.exited(), 2, 'the second master exits with a user error');
  t.match(same.out, new RegExp(`^q: another master \\(pid ${first.pid}\\) is using the state directory .*: stop it first`));
  t.equal(same.out.trim().split('\n').length, 1, 'one line');
  const port = c.spawnQ(['-mode', 'master', '-masterPort', String(c.port), '-state', join(c.dir, 'other-state')]);
  t.equal(await port.exited(), 2);
  t.match(port.out, new RegExp(`^q: port ${c.port} on 127\\.0\\.0\\.1 is in use \\(another master\\?\\)`));
  t.equal(port.out.trim().split('\n').length, 1, 'one line, no stack trace');
  const h = c.add(['-add', 'echo still here']);
  t.equal((await c.waitForStatus(h, ['done', 'failed'])).status, 'done', 'the first master still serves');
  t.notMatch(first.out, /not heard from/, 'and lost no worker');
  await first.stop('SIGKILL');
  const again = await c.startMaster();
  t.ok(again.alive, 'a master killed -9 leaves no lock behind');
});
