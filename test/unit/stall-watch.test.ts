// The master says what its longest event-loop gap was made of: its thread running (or ready
// and waiting for a CPU), or off the CPU, blocked. Here the loop is held both ways, and the
// breakdown must name the right one; lower bounds only, which no machine's speed can break.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../../src/common/clock.js';
import { makeLog, Verbosity } from '../../src/common/verbosity.js';
import { StallWatch, describeGap } from '../../src/master/stallWatch.js';
import { ThreadClock } from '../../src/master/threadTimes.js';

const HOLD_MS = 150;
const probe = new ThreadClock();
const known = probe.read() !== null;
probe.close();
const turns = (ms: number) => new Promise((r) => setTimeout(r, ms));

function watch() {
  const lines: string[] = [];
  return { lines, w: new StallWatch(systemClock, makeLog(Verbosity.NORMAL, (l) => lines.push(l))) };
}

t.test('a loop held by work: the gap was spent running', { skip: !known && 'no /proc/thread-self/schedstat here' }, async (t) => {
  const { w, lines } = watch();
  await turns(30);
  const end = performance.now() + HOLD_MS;
  while (performance.now() < end); // the master's own work, for HOLD_MS
  await turns(30);
  const g = w.longestGap!;
  w.close();
  t.ok(g.ms >= HOLD_MS, `the gap, ${Math.round(g.ms)} ms, holds the hold`);
  t.ok(g.cpuMs + g.queuedMs > g.offCpuMs, `running or ready, not blocked: ${describeGap(g)}`);
  t.match(lines.at(-1), /^Longest event-loop delay: \d+ ms \(the longest gap between ticks, \d+ ms: \d+ ms on a CPU, \d+ ms waiting for one, \d+ ms off it\)$/);
});

t.test('a loop held by a blocked thread: the gap was spent off the CPU', { skip: !known && 'no /proc/thread-self/schedstat here' }, async (t) => {
  const { w } = watch();
  await turns(30);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HOLD_MS); // as a read waiting for the disk would
  await turns(30);
  const g = w.longestGap!;
  w.close();
  t.ok(g.ms >= HOLD_MS, `the gap, ${Math.round(g.ms)} ms, holds the hold`);
  // The wait itself is off the CPU however loaded the machine (after it the thread may queue).
  t.ok(g.offCpuMs >= HOLD_MS * 0.8, `blocked, not running: ${describeGap(g)}`);
});

t.test('the breakdown in one line', async (t) => {
  t.equal(describeGap({ ms: 85.4, cpuMs: 12.2, queuedMs: 3, offCpuMs: 70.2 }), '85 ms: 12 ms on a CPU, 3 ms waiting for one, 70 ms off it');
});
