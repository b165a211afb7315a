import t from 'tap';
import { RUN_PER_TURN, WriteGate } from '../../src/master/writeGate.js';

const turn = () => new Promise((r) => setImmediate(r));

t.test('open: a write runs at once; paused: it waits, and what waited runs in order once open', async (t) => {
  const gate = new WriteGate();
  const ran: number[] = [];
  gate.run(() => ran.push(1));
  t.same(ran, [1], 'at once');
  gate.pause();
  t.notOk(gate.clear);
  gate.run(() => ran.push(2));
  gate.run(() => ran.push(3));
  await turn();
  t.same(ran, [1], 'held while paused');
  gate.resume();
  t.notOk(gate.clear, 'not clear while held writes wait: a timer skips its turn');
  gate.run(() => ran.push(4)); // comes after what waits, not before
  for (let i = 0; i < 5 && !gate.clear; i++) await turn();
  t.same(ran, [1, 2, 3, 4]);
  t.ok(gate.clear);
});

t.test('held writes run a slice a turn, and stop when it pauses again', async (t) => {
  const gate = new WriteGate();
  gate.pause();
  let ran = 0;
  for (let i = 0; i < RUN_PER_TURN * 3; i++) gate.run(() => ran++);
  gate.resume();
  await turn();
  t.equal(ran, RUN_PER_TURN, 'one slice in the first turn');
  gate.pause();
  await turn();
  await turn();
  t.equal(ran, RUN_PER_TURN, 'none while paused');
  gate.resume();
  for (let i = 0; i < 10 && !gate.clear; i++) await turn();
  t.equal(ran, RUN_PER_TURN * 3, 'the rest once open');
});

t.test('a held write that throws is reported, and the ones after it still run', async (t) => {
  const failures: string[] = [];
  const gate = new WriteGate((e) => failures.push((e as Error).message));
  gate.pause();
  const ran: string[] = [];
  gate.run(() => {
    throw new Error('disk full');
  });
  gate.run(() => ran.push('after'));
  gate.resume();
  for (let i = 0; i < 5 && !gate.clear; i++) await turn();
  t.same(failures, ['disk full']);
  t.same(ran, ['after']);
});

t.test('at shutdown, what still waits runs at once, in order', async (t) => {
  const gate = new WriteGate();
  gate.pause();
  const ran: number[] = [];
  for (let i = 0; i < 3; i++) gate.run(() => ran.push(i));
  gate.runHeld();
  t.same(ran, [0, 1, 2]);
  t.ok(gate.clear);
});
