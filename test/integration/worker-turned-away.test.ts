// A worker the master turns away (too many connections waiting, 503) says so and comes
// back: before, the refused handshake stayed open and the worker waited on it for good.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

t.test('a worker turned away for load tries again and gets in once the master has room', async (t) => {
  const c = new Cluster(t);
  // The token the master will use, there before it is (as a deployed worker has it).
  mkdirSync(c.state, { recursive: true, mode: 0o700 });
  writeFileSync(join(c.state, 'token'), 'a-token-for-this-test\n', { mode: 0o600 });
  // A stand-in on the master's port that turns the first two handshakes away as a busy
  // master does, then lets the real master have the port.
  let turned = 0;
  const sockets = new Set<Socket>();
  const standIn = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.once('data', () => {
      turned++;
      s.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
  });
  await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', r));
  c.port = (standIn.address() as { port: number }).port;
  const w = c.spawnQ(['-mode', 'worker', '-masterPort', String(c.port), '-handle', 'w', '-basePath', `${c.dir}/scratch-w`]);
  await waitFor('two handshakes turned away', () => turned >= 2 || undefined, 15_000);
  await new Promise<void>((r) => {
    standIn.close(() => r());
    for (const s of sockets) s.destroy();
  });
  t.match(w.out, /turned this worker away/, 'the worker said it was turned away');
  await c.startMaster();
  const connected = await waitFor('the worker connected', async () => {
    const workers = await c.ask((conn) => conn.request({ type: 'workers' }, 'workerList').then((r) => r.workers));
    return workers?.some((v) => v.handle === 'w' && v.connected) || undefined;
  }, 20_000);
  t.ok(connected, 'it came back by itself');
  t.ok(w.alive);
});
