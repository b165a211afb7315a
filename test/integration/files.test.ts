// Files over q's own connection: inputs staged on the worker, outputs copied back while the
// job runs and at its end, realtime inputs updating a running job, large files streamed, and
// a hostile worker refused.
import t from 'tap';
import { createHash, randomFillSync } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { Cluster, waitFor } from '../helpers/q.js';
import { decode, encode } from '../../src/protocol/codec.js';
import { encodeChunk } from '../../src/protocol/frames.js';
import { MasterToWorkerSchema, type MasterToWorker } from '../../src/protocol/workerMessages.js';
import { ResourcesSchema } from '../../src/protocol/resources.js';

function sha(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/** Peak resident memory of a process of ours, in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

t.test('nested inputs go to the worker; nested outputs come back; a kept copy is not fetched again', async (t) => {
  const c = new Cluster(t);
  const sub = join(c.dir, 'exp');
  mkdirSync(join(sub, 'data', 'deep'), { recursive: true });
  writeFileSync(join(sub, 'data', 'a.txt'), 'alpha\n');
  writeFileSync(join(sub, 'data', 'deep', 'b.txt'), 'beta\n');
  writeFileSync(join(sub, 'run.sh'), 'echo ran\n');
  chmodSync(join(sub, 'run.sh'), 0o755);
  const out = join(c.dir, 'out');
  mkdirSync(out);
  await c.startMaster();
  await c.startWorker('fw');
  const h = c.add(['-inPaths', 'data', '-outPath', out, '-outFiles', 'full:res*', '-add',
    'cat data/a.txt data/deep/b.txt && ./run.sh && mkdir -p ///OUT/results/x && echo inner > ///OUT/results/x/f && echo top > ///OUT/res.txt && echo no > ///OUT/other'.replaceAll('OUT', out.slice(1))], { cwd: sub });
  const row = await c.waitForStatus(h, ['done', 'failed']);
  t.equal(row.status, 'done', row.exitReason);
  t.equal(c.q(['-log', h]).stdout, 'alpha\nbeta\nran\n', 'inputs (and the implicit ./run.sh, executable) were there');
  t.equal(readFileSync(join(out, 'results', 'x', 'f'), 'utf8'), 'inner\n', 'a matched directory comes back whole');
  t.equal(readFileSync(join(out, 'res.txt'), 'utf8'), 'top\n');
  t.notOk(existsSync(join(out, 'other')), 'files outFiles does not name stay on the worker');
  const copy = join(c.dir, 'scratch-fw', 'mirror', sub.slice(1), 'data', 'a.txt');
  const inode = statSync(copy).ino;
  const again = c.add(['-inPaths', 'data', '-add', 'cat data/a.txt'], { cwd: sub });
  await c.waitForStatus(again, ['done', 'failed']);
  t.equal(statSync(copy).ino, inode, 'an input the worker already has at the same size and mtime is not fetched again');
  writeFileSync(join(sub, 'data', 'a.txt'), 'alpha2\n');
  const changed = c.add(['-inPaths', 'data', '-add', 'cat data/a.txt'], { cwd: sub });
  await c.waitForStatus(changed, ['done', 'failed']);
  t.equal(c.q(['-log', changed]).stdout, 'alpha2\n', 'a changed input is fetched');
});

t.test('append sends new bytes while the job runs; full sends the file when it changes', async (t) => {
  const c = new Cluster(t);
  const out = join(c.dir, 'out');
  mkdirSync(out);
  await c.startMaster();
  await c.startWorker('fw');
  const o = out.slice(1);
  const h = c.add(['-outPath', out, '-outFiles', 'append:log.txt', 'full:state', 'full:grown', '-add',
    `for i in 1 2 3 4; do echo line $i >> ///${o}/log.txt; echo $i > ///${o}/state; sleep 1; done; ` +
    // A big file still being sent by a periodic pass when it changes one last time.
    `head -c 100m /dev/zero > ///${o}/grown; sleep 1.9; echo END >> ///${o}/grown`]);
  await waitFor('log.txt copied back while the job runs', () => existsSync(join(out, 'log.txt')) && c.row(h)?.status === 'running', 8000);
  t.pass('copied while running');
  const row = await c.waitForStatus(h, ['done', 'failed']);
  t.equal(row.status, 'done');
  t.equal(readFileSync(join(out, 'log.txt'), 'utf8'), 'line 1\nline 2\nline 3\nline 4\n', 'every line, once');
  t.equal(readFileSync(join(out, 'state'), 'utf8'), '4\n', 'the final version of a full file');
  t.equal(statSync(join(out, 'grown')).size, 100 * 1024 * 1024 + 4, 'a file that changed during a send arrives as it ended');
  t.equal(readFileSync(join(out, 'grown')).subarray(-4).toString(), 'END\n');
});

t.test('large files stream in both directions with bounded memory', async (t) => {
  const c = new Cluster(t);
  const sub = join(c.dir, 'in');
  mkdirSync(sub);
  const big = join(sub, 'big.bin');
  writeFileSync(big, Buffer.alloc(0));
  // 300 MB of incompressible data, written in pieces.
  const fd = (await import('node:fs')).openSync(big, 'w');
  for (let i = 0; i < 300; i++) {
    const block = Buffer.alloc(1024 * 1024);
    randomFillSync(block); // (this once wrote zeros: Hash.copy fills nothing)
    (await import('node:fs')).writeSync(fd, block);
  }
  (await import('node:fs')).closeSync(fd);
  const out = join(c.dir, 'out');
  mkdirSync(out);
  // A heap far smaller than the file: holding it whole anywhere would end that process.
  c.nodeArgs = ['--max-old-space-size=64'];
  const master = await c.startMaster();
  const worker = await c.startWorker('fw');
  const h = c.add(['-inPaths', 'big.bin', '-outPath', out, '-outFiles', 'full:copy.bin', '-add',
    `cp big.bin ///${out.slice(1)}/copy.bin`], { cwd: sub });
  const row = await c.waitForStatus(h, ['done', 'failed'], 90_000);
  t.equal(row.status, 'done', row.exitReason);
  t.equal(await sha(join(out, 'copy.bin')), await sha(big), 'the 300 MB file made the round trip intact');
  const m = peakRssMb(master.pid);
  const w = peakRssMb(worker.pid);
  t.ok(m < 256, `master peak RSS ${m.toFixed(0)} MB for 600 MB moved, with a 64 MB heap`);
  t.ok(w < 256, `worker peak RSS ${w.toFixed(0)} MB for 600 MB moved, with a 64 MB heap`);
  t.ok(master.alive && worker.alive, 'neither ran out of memory');
});

t.test('a realtime input updates the running job', async (t) => {
  const c = new Cluster(t);
  const sub = join(c.dir, 'exp');
  mkdirSync(sub);
  writeFileSync(join(sub, 'ctl'), 'go\n');
  await c.startMaster();
  await c.startWorker('fw');
  const h = c.add(['-realtimeInPaths', 'ctl', '-time', '30s', '-add',
    'n=0; while [ "$(cat ctl)" != stop ]; do n=$((n+1)); [ $n -gt 200 ] && exit 9; sleep 0.1; done; echo stopped'], { cwd: sub });
  await c.waitForStatus(h, ['running']);
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(c.row(h)!.status, 'running', 'it waits for the word');
  writeFileSync(join(sub, 'ctl'), 'stop\n');
  const row = await c.waitForStatus(h, ['done', 'failed']);
  t.equal(row.status, 'done');
  t.equal(c.q(['-log', h]).stdout, 'stopped\n');
});

/** A worker of the test's own making, speaking the protocol directly. */
async function rogueWorker(c: Cluster, handle: string) {
  const token = readFileSync(join(c.state, 'token'), 'utf8').trim();
  const ws = new WebSocket(`ws://127.0.0.1:${c.port}/`, { headers: { authorization: `Bearer ${token}`, 'x-q-role': 'worker' } });
  const inbox: MasterToWorker[] = [];
  const chunks: Buffer[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) return void chunks.push(data as Buffer);
    const d = decode(MasterToWorkerSchema, data);
    if (d.ok) inbox.push(d.msg);
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(encode({
    type: 'workerHello', handle, slots: 1, maxTime: null, running: [],
    resources: ResourcesSchema.parse({ hostname: 'rogue', cpus: 1, cpuSpeed: 1, freeMem: 100_000, freeDisk: 100_000, busyProcesses: [] }),
  }));
  t.teardown(() => ws.terminate());
  return { ws, inbox, chunks };
}

t.test('a worker writes only inside the outPath of a job it holds, never through a link; it reads only that job\'s inputs', async (t) => {
  const c = new Cluster(t);
  const out = join(c.dir, 'out');
  const elsewhere = join(c.dir, 'elsewhere');
  mkdirSync(out);
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, join(out, 'link'));
  writeFileSync(join(c.dir, 'secret'), 'secret\n');
  const inputs = join(c.dir, 'inputs');
  mkdirSync(inputs);
  writeFileSync(join(inputs, 'input'), 'input\n');
  symlinkSync(c.dir, join(inputs, 'up')); // a link inside an input, to above it
  await c.startMaster();
  const mine = c.add(['-inPaths', 'inputs', '-outPath', out, '-outFiles', 'full:*', '-add', 'true']);
  const rogue = await rogueWorker(c, 'rogue');
  const assign = await waitFor('an assignment', () => rogue.inbox.find((m) => m.type === 'assign'));
  const lease = assign.type === 'assign' ? assign.job.lease : '';
  rogue.ws.send(encode({ type: 'staging', handle: mine, lease }));
  const manifest = await waitFor('the manifest', () => rogue.inbox.find((m) => m.type === 'manifest'));
  t.match(manifest, { entries: [{ type: 'dir', path: inputs }, { type: 'file', path: join(inputs, 'input') }, { type: 'link', path: join(inputs, 'up') }] });
  rogue.ws.send(encode({ type: 'fetch', handle: mine, lease, paths: [join(inputs, 'input')] }));
  await waitFor('the input, in a binary frame', () => rogue.chunks.length > 0);
  t.match(rogue.chunks[0]!.toString(), /"path":".*\/inputs\/input".*input\n$/s, 'a listed input is served');
  rogue.ws.send(encode({ type: 'fetch', handle: mine, lease, paths: [join(inputs, 'up', 'secret')] }));
  await waitFor('the fetch through a link refused', () => rogue.inbox.find((m) => m.type === 'stageError'));
  t.equal(rogue.chunks.length, 1, 'nothing read through the link');
  rogue.inbox.length = 0;
  const chunk = (path: string, data: string, l = lease, handle = mine) =>
    rogue.ws.send(encodeChunk({ type: 'outChunk', handle, lease: l, path, append: false, offset: 0, eof: true, mtimeMs: Date.now(), mode: 0o644 }, Buffer.from(data)));
  chunk('ok.txt', 'fine\n');
  chunk('link/escaped', 'bad\n');
  chunk('../up', 'bad\n');
  chunk('stale.txt', 'bad\n', 'not-the-lease');
  chunk('other.txt', 'bad\n', lease, 'J-zzzzzz');
  rogue.ws.send(encode({ type: 'fetch', handle: mine, lease, paths: [join(c.dir, 'secret')] }));
  await waitFor('the good file', () => existsSync(join(out, 'ok.txt')));
  t.equal(readFileSync(join(out, 'ok.txt'), 'utf8'), 'fine\n');
  await waitFor('the fetch refused', () => rogue.inbox.find((m) => m.type === 'stageError'));
  t.pass('a file that is not an input of the job is refused');
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(existsSync(join(elsewhere, 'escaped')), 'no write through a link');
  t.notOk(existsSync(join(c.dir, 'up')), 'no write above the outPath');
  t.notOk(existsSync(join(out, 'stale.txt')), 'no write with a lease the job does not have');
  t.notOk(existsSync(join(out, 'other.txt')), "no write for a job the worker does not hold");
  await c.master!.waitForOutput(/Refused output link\/escaped of J-\w+ from rogue: .*link is a link: q does not follow links/);
  t.ok(rogue.ws.readyState === rogue.ws.OPEN, 'the master still talks to it');
});
