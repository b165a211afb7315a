// Hostile input: 10,000+ random, truncated, oversized, wrongly typed and out-of-order frames
// on worker and client connections (and garbage from connections that never authenticate).
// The master stays up, its memory stays bounded, and no job changes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { WebSocket } from 'ws';
import { Cluster } from '../helpers/q.js';
import { encodeChunk } from '../../src/protocol/frames.js';
import { open, RESOURCES, tokenOf } from './sim.js';

/** Deterministic randomness: a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const WORKER_TYPES = ['workerHello', 'heartbeat', 'started', 'progress', 'output', 'finished', 'stopping', 'release', 'staging', 'fetch', 'outDir', 'bogus'];
const CLIENT_TYPES = ['add', 'list', 'kill', 'delete', 'rerun', 'workers', 'log', 'saveState', 'nope'];

function junkValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * 9);
  if (depth > 2) return k % 2 ? 'x'.repeat(Math.floor(r() * 50)) : r() * 1e9;
  switch (k) {
    case 0: return null;
    case 1: return -Math.floor(r() * 1e6);
    case 2: return 'J-' + Math.floor(r() * 36 ** 6).toString(36).padStart(6, '0');
    case 3: return r() > 0.5;
    case 4: return [junkValue(r, depth + 1), junkValue(r, depth + 1)];
    case 5: return { a: junkValue(r, depth + 1), type: 'finished' };
    case 6: return '\u0000\uffff'.repeat(Math.floor(r() * 10));
    case 7: return 1e308;
    default: return 'lease-' + Math.floor(r() * 1000);
  }
}

function junkFrame(r: () => number, types: string[], handles: string[]): string | Buffer {
  const kind = Math.floor(r() * 6);
  const msg: Record<string, unknown> = { type: types[Math.floor(r() * types.length)] };
  for (const f of ['id', 'handle', 'lease', 'specs', 'jobs', 'result', 'stats', 'data', 'stream', 'paths', 'path', 'slots', 'running', 'resources']) {
    if (r() < 0.4) msg[f] = junkValue(r);
  }
  if (r() < 0.5) msg.handle = handles[Math.floor(r() * handles.length)]; // aim at real jobs
  const text = JSON.stringify(msg);
  switch (kind) {
    case 0: return text.slice(0, Math.floor(r() * text.length)); // truncated
    case 1: return Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256))); // binary junk
    case 2: // a well-formed chunk for a real job, with a lease it does not have
      return encodeChunk({ type: 'outChunk', handle: (msg.handle as string) ?? 'J-000000', lease: 'forged', path: 'x', append: false, offset: 0, eof: true, mtimeMs: 0, mode: 0o644 }, Buffer.from('evil'));
    case 3: return `{"type":"${String(msg.type)}","handle":"${String(msg.handle)}","lease":"forged","result":{"exitCode":0,"exitReason":null,"realTime":1,"userTime":1,"maxMem":1,"maxDisk":1},"stats":{"realTime":1,"userTime":1,"maxMem":1,"maxDisk":1}}`;
    default: return text;
  }
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

t.test('10,000 hostile frames change nothing and do not bring the master down', async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster();
  const token = tokenOf(c.state);
  // Jobs that nothing should touch: queued for a worker that never comes, and one finished.
  const queued = [1, 2, 3].map(() => c.add(['-workerHandle', 'nobody', '-add', 'true']));
  await c.startWorker('real');
  const finished = c.add(['-workerHandle', 'real', '-add', 'echo real']);
  await c.waitForStatus(finished, ['done']);
  await c.workers[0]!.stop();
  // (a ready job's reason says which workers are connected, as the fuzzing ones come and go)
  const jobsNow = (json: string) =>
    (JSON.parse(json) as { status: string; exitReason: string | null }[]).map((j) => (j.status === 'ready' ? { ...j, exitReason: null } : j));
  const before = jobsNow(c.q(['-list', '-json']).stdout);
  const handles = [...queued, finished];
  const r = rng(20261128);
  let sent = 0;
  const rssStart = rssMb(master.pid);

  // Connections that never authenticate: bad tokens (a few: more would rate-limit this
  // address) and raw garbage instead of an HTTP upgrade.
  for (let i = 0; i < 5; i++) await open(c.port, `wrong-${i}`, 'worker').then((ws) => ws.terminate(), () => {});
  for (let i = 0; i < 50; i++) {
    const sock = connect(c.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write(Buffer.from(Array.from({ length: 2000 }, () => Math.floor(r() * 256))));
    sock.end();
    sent++;
  }

  let ws: WebSocket | null = null;
  const send = async (role: 'worker' | 'client', frame: string | Buffer) => {
    if (!ws || ws.readyState !== ws.OPEN) {
      ws = await open(c.port, token, role);
      ws.on('message', () => {});
    }
    ws.send(frame);
    sent++;
  };
  for (const role of ['worker', 'client'] as const) {
    ws = null;
    for (let i = 0; i < 5000; i++) {
      // Now and then a valid hello first, so that later frames reach the job handlers.
      if (role === 'worker' && i % 500 === 0) {
        await send(role, JSON.stringify({ type: 'workerHello', handle: `fuzz-${i}`, slots: 0, maxTime: null, resources: RESOURCES, running: [] }));
      }
      await send(role, junkFrame(r, role === 'worker' ? WORKER_TYPES : CLIENT_TYPES, handles));
      if (i % 1000 === 999) {
        await send(role, Buffer.alloc(9 * 1024 * 1024, 1)); // over the frame limit: the socket goes
        ws = null;
      }
      if (i % 200 === 0) await new Promise((res) => setImmediate(res));
    }
    (ws as WebSocket | null)?.close();
  }
  t.ok(sent >= 10_000, `${sent} hostile frames sent`);
  const list = c.q(['-list', '-json']);
  t.equal(list.code, 0, 'the master still answers');
  t.same(jobsNow(list.stdout), before, 'no job changed');
  const rss = rssMb(master.pid);
  t.ok(rss < rssStart + 150, `master RSS ${rss.toFixed(0)} MB (from ${rssStart.toFixed(0)} MB)`);
  t.ok(master.alive, 'the master process is alive');
});
