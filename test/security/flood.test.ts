// Strangers cannot lock out the token holders: connections that never send a request are
// bounded per address and in all, and closed after 5 s, so a flood of them leaves the master
// descriptors for its workers and clients; one turned away for load is told so.
import t from 'tap';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { Cluster, freePort, Proc } from '../helpers/q.js';

/** Idle connections from `addresses` (127.0.0.x), `each` per address, reopened when dropped, until stop(). */
function flood(port: number, addresses: string[], each: number) {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<Socket>();
  const open = (localAddress: string) => {
    if (stopped) return;
    opened++;
    const s = connect({ host: '127.0.0.1', port, localAddress });
    sockets.add(s);
    s.resume(); // read what the master says, so its close is seen
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      // Reopened, but not in a tight loop: the flood is bounded in count and time.
      if (!stopped && opened < 20_000) setTimeout(() => open(localAddress), 20);
    });
  };
  for (const a of addresses) for (let i = 0; i < each; i++) open(a);
  return {
    get opened() {
      return opened;
    },
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

t.test('a flood of idle connections leaves room for workers and clients, and costs the master a bounded number of descriptors', async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster();
  await c.startWorker('w1');
  const before = fds(master.pid);
  const addresses = Array.from({ length: 20 }, (_, i) => `127.0.0.${10 + i}`);
  const f = flood(c.port, addresses, 100);
  t.teardown(() => f.stop());
  await new Promise((r) => setTimeout(r, 1500));
  const during = fds(master.pid);
  t.ok(during < before + 1024 + 64, `the master holds ${during} descriptors under a flood of 2,000 (${before} before)`);
  const list = c.q(['-list']);
  t.equal(list.code, 0, `-list answers during the flood: ${list.stderr}`);
  await c.startWorker('w2');
  t.pass('a second worker connected during the flood');
  const h = c.add(['-add', 'echo through']);
  t.equal((await c.waitForStatus(h, ['done'], 15_000)).status, 'done', 'a job ran');
  t.ok(f.opened > 2000, `connections were dropped and reopened (${f.opened} opened)`);
  f.stop();
});

t.test('a connection that sends nothing is closed after 5 s; many from one address do not keep out a client from it', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const began = Date.now();
  const lone = connect({ host: '127.0.0.1', port: c.port, localAddress: '127.0.0.7' });
  lone.on('error', () => {});
  lone.resume();
  const closedAfter = new Promise<number>((r) => lone.on('close', () => r(Date.now() - began)));
  // 200 idle connections from the client's own address, opened before it.
  const f = flood(c.port, ['127.0.0.1'], 200);
  t.teardown(() => f.stop());
  await new Promise((r) => setTimeout(r, 500));
  const r = c.q(['-list']);
  t.equal(r.code, 0, `a client from the flooded address gets in: ${r.stderr}`);
  const ms = await closedAfter;
  t.ok(ms >= 4000 && ms < 9000, `the silent connection went after ${ms} ms`);
  f.stop();
});

t.test('a client the master turns away for load says so', async (t) => {
  // What the gate writes to a connection it turns away, from a stand-in at a free port (in a
  // process of its own: the client's call below blocks this one).
  const { TURNED_AWAY } = await import('../../src/master/connectionGate.js');
  const port = await freePort();
  const script = `require('node:net').createServer((s) => s.end(${JSON.stringify(TURNED_AWAY)})).listen(${port}, '127.0.0.1', () => console.log('up'))`;
  const standIn = new Proc(spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => standIn.stop('SIGKILL'));
  await standIn.waitForOutput(/up/);
  const c = new Cluster(t);
  c.port = port;
  const r = c.q(['-list', '-token', 'x']);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /^q: the master at 127\.0\.0\.1:\d+ turned this connection away: too many connections are waiting for it \(try again shortly\)\n$/);
});
