// The network between a worker and the master cut (the connection dropped, both processes
// alive): the job keeps running, the worker reconnects by itself and resyncs, and nothing is
// run twice or lost, output included.
import t from 'tap';
import { createServer, connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor, freeze } from '../helpers/q.js';

/** A TCP relay to the master that the test can cut and mend. */
async function relay(target: number) {
  const open = new Set<Socket>();
  let cut = false;
  const server = createServer((down) => {
    if (cut) return void down.destroy();
    const up = connect(target, '127.0.0.1');
    for (const s of [down, up]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        open.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      cut = true;
      for (const s of open) s.destroy();
    },
    mend() {
      cut = false;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

t.test('a dropped connection: the job runs on, the worker resyncs, nothing twice, nothing lost', async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster();
  const net = await relay(c.port);
  t.teardown(() => {
    net.cut();
    return net.close();
  });
  const w = c.spawnQ(['-mode', 'worker', '-masterPort', String(net.port), '-handle', 'pw', '-basePath', join(c.dir, 'scratch'), '-sleepInterval', '1']);
  await w.waitForOutput(/=====/);
  await waitFor('the worker connected', () => /^pw\t.*\tidle\t/m.test(c.q(['-w', '-tabs']).stdout));
  const marker = join(c.dir, 'ran');
  const h = c.add(['-shareWorkingPath', '-add', `for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.4; done; echo once >> ${marker}`]);
  await c.waitForStatus(h, ['running']);
  await new Promise((r) => setTimeout(r, 800));
  net.cut();
  await master.waitForOutput(/Worker pw disconnected/);
  await new Promise((r) => setTimeout(r, 2500)); // output piles up on the worker meanwhile
  t.equal(c.row(h)!.status, 'running', 'a closed socket alone does not take the job away');
  net.mend();
  const row = await c.waitForStatus(h, ['done', 'failed'], 20_000);
  t.equal(row.status, 'done');
  t.equal(c.q(['-log', h]).stdout, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => `line ${i}\n`).join(''), 'all output, once');
  t.equal(readFileSync(marker, 'utf8'), 'once\n', 'it ran once');
  t.equal(JSON.parse(c.q(['-list', h, '-json']).stdout)[0].attempt, 1, 'not given out again');
  t.match(master.out, /Worker pw connected[\s\S]*Worker pw disconnected[\s\S]*Worker pw connected/, 'it came back by itself');
});

t.test('a job that starts while its worker is cut off is shown running once the worker is back', async (t) => {
  const c = new Cluster(t);
  await c.startMaster(['-heartbeatTimeout', '2s']);
  const net = await relay(c.port);
  t.teardown(() => {
    net.cut();
    return net.close();
  });
  const w = c.spawnQ([
    '-mode', 'worker', '-masterPort', String(net.port), '-handle', 'pw', '-basePath', join(c.dir, 'scratch'),
    '-sleepInterval', '1', '-killGrace', '4',
  ]);
  await w.waitForOutput(/=====/);
  await waitFor('the worker connected', () => /^pw\t.*\tidle\t/m.test(c.q(['-w', '-tabs']).stdout));
  // The first copy ignores TERM, so the second waits on the worker for the whole grace period.
  // Both sleep far longer than the reconnect can take (up to 15 s, below): a copy that ended
  // before the worker was back would be reported done, never running (a red CI once).
  const h = c.add(['-shareWorkingPath', '-add', "trap '' TERM; sleep 90"]);
  await c.waitForStatus(h, ['running']);
  freeze(t, w.pid);
  await c.master!.waitForOutput(new RegExp(`Requeued ${h}: worker pw not heard from`), 15_000);
  process.kill(w.pid, 'SIGCONT');
  // Given again to pw, whose old copy is still dying: the new one starts in a few seconds.
  await waitFor('the second assignment', () => {
    const [job] = JSON.parse(c.q(['-list', h, '-json']).stdout);
    return job.attempt === 2 && job.status === 'assigned';
  }, 15_000, 100);
  net.cut(); // ...and its `started` goes into a socket that is gone
  // A master that waits long for silent workers from now on, so that the cut alone is seen.
  await c.master!.stop('SIGKILL');
  await c.startMaster(['-heartbeatTimeout', '60s']);
  await w.waitForOutput(new RegExp(`Running ${h}[\\s\\S]*Running ${h}`), 15_000); // the second copy
  await new Promise((r) => setTimeout(r, 500));
  t.equal(c.row(h)!.status, 'assigned', 'the master has not heard yet');
  net.mend();
  // Its next try may be up to a handshake timeout (5 s) plus a full backoff (10 s) away.
  const row = await c.waitForStatus(h, ['running'], 30_000);
  t.equal(row.status, 'running', 'the hello after the reconnect said it had started');
});
