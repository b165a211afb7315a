// The master's log spool: a job's output held to its -logLimit (head, a note of what was
// dropped, tail), exactly once across resends and crashes, and logs of the previous version.
import t from 'tap';
import { appendFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogSpool } from '../../src/master/logs.js';
import { sendLog } from '../../src/master/logStream.js';
import type { LogSnapshot } from '../../src/master/logSnapshot.js';

const H = 'J-abc123';
const MB = 1024 * 1024;

async function text(snap: LogSnapshot, range: { head?: number; tail?: number } = {}): Promise<string> {
  const parts: Buffer[] = [];
  await sendLog(snap, { data: (b) => parts.push(b), buffered: () => 0 }, range);
  return Buffer.concat(parts).toString();
}

/** Numbered lines, so that any byte out of place shows. */
function lines(stream: string, from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += `${stream} line ${String(i).padStart(7, '0')}\n`;
  return s;
}

/** Feeds two streams to the spool in uneven chunks, as a worker would; returns what arrived, in order. */
function feed(spool: LogSpool, total: number): string {
  const pos = { stdout: 0, stderr: 0 };
  let arrived = '';
  let i = 0;
  for (let n = 0; arrived.length < total; n++) {
    const stream = n % 3 === 2 ? 'stderr' : 'stdout';
    const chunk = lines(stream, i, 1 + ((n * 7919) % 900));
    i += 1 + ((n * 7919) % 900);
    spool.append(H, stream, pos[stream], Buffer.from(chunk));
    pos[stream] += chunk.length;
    arrived += chunk;
  }
  return arrived;
}

function diskOf(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

t.test('a log under its limit is kept whole, as one file', async (t) => {
  const dir = t.testdir();
  const spool = new LogSpool(dir, () => 1);
  spool.append(H, 'stdout', 0, Buffer.from('one\n'));
  spool.append(H, 'stderr', 0, Buffer.from('two\n'));
  spool.append(H, 'stdout', 0, Buffer.from('one\nthree\n')); // resent after a reconnect, and more
  t.equal(await text(spool.snapshot(H)), 'one\ntwo\nthree\n');
  t.same(spool.positionsOf(H), { stdout: 10, stderr: 4 });
  t.equal(spool.end(H, 'done'), 0, 'nothing dropped');
  t.same(readdirSync(dir), [`${H}.log`], 'no positions left, no tail');
});

t.test('a log over its limit keeps its first and last halves, and says what it dropped', async (t) => {
  const dir = t.testdir();
  const spool = new LogSpool(dir, () => 1);
  const arrived = feed(spool, 6 * MB);
  const head = arrived.slice(0, MB / 2);
  const tail = arrived.slice(arrived.length - MB / 2);
  const dropped = arrived.length - MB;
  t.ok(diskOf(dir) < 1.2 * MB, `the spool holds ${diskOf(dir)} bytes for a ${arrived.length}-byte log`);
  const note = `[q: ${dropped} bytes (${Math.round(dropped / MB)}m) of output dropped from the middle: -logLimit 1m keeps the first 512k and the last 512k]\n`;
  const expected = head + (head.endsWith('\n') ? '' : '\n') + note + tail;
  t.equal(await text(spool.snapshot(H)), expected, 'head, note, tail');
  t.equal(await text(spool.snapshot(H), { tail: 2 }), tail.split('\n').slice(-3).join('\n'), '-tail 2 reads from the tail');
  t.equal(await text(spool.snapshot(H), { head: 1 }), arrived.split('\n')[0] + '\n', '-head 1');
  t.equal(spool.end(H, 'done'), dropped);
  // A master started afresh reads the same log.
  t.equal(await text(new LogSpool(dir, () => 1).snapshot(H)), expected, 'the same after a restart');
  new LogSpool(dir, () => 1).remove(H);
  t.same(readdirSync(dir), [], 'a rerun or delete leaves nothing');
});

t.test('a discarded log goes off the event loop: followers told at once, every file gone once settled', async (t) => {
  const dir = t.testdir();
  const spool = new LogSpool(dir, () => 1);
  feed(spool, 3 * MB); // cut: head, segments, H.pos
  const ended: string[] = [];
  spool.follow(H, { data: () => {}, end: (status) => ended.push(status) });
  // Another job's cut log, known only from its files (a master started since), with a segment
  // H.pos had given up on still there.
  const other = new LogSpool(dir, () => 1);
  const positions = { stdout: 0, stderr: 0 };
  for (let i = 0; i < 400; i++) {
    const chunk = Buffer.from(lines('stdout', i * 1000, 1000));
    other.append('J-other', 'stdout', positions.stdout, chunk);
    positions.stdout += chunk.length;
  }
  const first = Math.min(...readdirSync(dir).filter((f) => f.startsWith('J-other.tail.')).map((f) => Number(f.split('.').pop())));
  writeFileSync(join(dir, `J-other.tail.${first - 1}`), 'OLD');
  const restarted = new LogSpool(dir, () => 1);

  spool.discard(H, 'deleted');
  restarted.discard('J-other', 'deleted');
  restarted.discard('J-never-wrote', 'deleted');
  t.same(ended, ['deleted'], 'its follower is told at once');
  t.ok(readdirSync(dir).length > 0, 'the files are still there on this turn: nothing was removed synchronously');
  await Promise.all([spool.settled(), restarted.settled()]);
  t.same(readdirSync(dir), [], 'every file of both jobs is gone');
  await spool.settled(); // nothing left to wait for
});

t.test('bytes a killed master wrote beyond its positions are cut, and come again once', async (t) => {
  const dir = t.testdir();
  const spool = new LogSpool(dir, () => 1);
  const arrived = feed(spool, 3 * MB);
  const pos = spool.positionsOf(H);
  // The crash: an append reached the files (the newest segment, and a new one) but not H.pos.
  const segs = readdirSync(dir).filter((f) => f.includes('.tail.')).map((f) => Number(f.split('.').pop())).sort((a, b) => a - b);
  const newest = segs[segs.length - 1]!;
  appendFileSync(join(dir, `${H}.tail.${newest}`), 'GHOST');
  writeFileSync(join(dir, `${H}.tail.${newest + 1}`), 'GHOST2');
  // And a segment H.pos had already given up, not yet removed.
  writeFileSync(join(dir, `${H}.tail.${segs[0]! - 1}`), 'OLD');

  const again = new LogSpool(dir, () => 1);
  t.same(again.positionsOf(H), pos, 'positions as recorded');
  t.notOk(existsSync(join(dir, `${H}.tail.${newest + 1}`)), 'the uncounted segment is gone');
  t.notOk(existsSync(join(dir, `${H}.tail.${segs[0]! - 1}`)), 'the given-up segment is gone');
  const more = lines('stdout', 9_000_000, 10);
  again.append(H, 'stdout', pos.stdout, Buffer.from(more));
  const log = await text(again.snapshot(H));
  t.notMatch(log, /GHOST|OLD/);
  t.ok(log.endsWith((arrived + more).slice(-MB / 2)), 'the tail is what arrived, once');
});

t.test('a log and positions written by the previous version go on', async (t) => {
  const dir = t.testdir();
  mkdirSync(dir, { recursive: true });
  // Before -logLimit: the whole log in H.log, and only the streams' positions in H.pos.
  writeFileSync(join(dir, `${H}.log`), 'out 1\nerr 1\n');
  writeFileSync(join(dir, `${H}.pos`), JSON.stringify({ stdout: 6, stderr: 6 }));
  const spool = new LogSpool(dir, () => 100);
  t.same(spool.positionsOf(H), { stdout: 6, stderr: 6 });
  spool.append(H, 'stdout', 6, Buffer.from('out 2\n'));
  t.equal(await text(spool.snapshot(H)), 'out 1\nerr 1\nout 2\n');
  t.equal(spool.end(H, 'done'), 0);
});

t.test('followers get what comes after their snapshot, once', async (t) => {
  const dir = t.testdir();
  const spool = new LogSpool(dir, () => 1);
  spool.append(H, 'stdout', 0, Buffer.from('a\n'));
  const live: string[] = [];
  let ended = '';
  const sub = spool.follow(H, { data: (b) => live.push(b.toString()), end: (s) => (ended = s) });
  spool.append(H, 'stdout', 2, Buffer.from('b\n'));
  t.equal(await text(sub.existing), 'a\n');
  t.same(live, ['b\n']);
  spool.end(H, 'done');
  t.equal(ended, 'done');
});
