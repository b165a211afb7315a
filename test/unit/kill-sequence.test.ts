// The one kill every run uses: TERM once, KILL after the grace period, the first reason kept
// and recorded as the kill begins; a KILL that falls due before the job can be reached goes
// when it can; a kill begun before a restart is carried on.
import t from 'tap';
import { fixedClock } from '../../src/common/clock.js';
import { KillSequence, type Signaller } from '../../src/worker/killSequence.js';

function target(reachable = true) {
  const sent: string[] = [];
  const began: [string, number][] = [];
  const s: Signaller & { reachable: boolean } = {
    reachable,
    term: () => void sent.push('TERM'),
    kill() {
      if (!this.reachable) return false;
      sent.push('KILL');
      return true;
    },
    began: (reason, at) => void began.push([reason, at]),
  };
  return { s, sent, began };
}

t.test('TERM once, the first reason kept, KILL after the grace period', async (t) => {
  const clock = fixedClock(1000);
  const { s, sent, began } = target();
  const k = new KillSequence(30, clock, s);
  t.equal(k.reason, null);
  t.equal(k.escalation, null, 'no kill, nothing pending');
  k.kill('Time limit exceeded');
  k.kill('Killed by server request');
  t.equal(k.reason, 'Time limit exceeded', 'the first reason is the one reported');
  t.same(began, [['Time limit exceeded', 1030]], 'recorded once, with when its KILL is due');
  t.same(sent, ['TERM'], 'a job is sent TERM once, so its own handler can clean up');
  t.notOk(k.escalated);
  await k.escalation;
  t.same(sent, ['TERM', 'KILL']);
  t.ok(k.escalated, 'it reports 137');
});

t.test('a KILL due before the job can be reached goes once it can', async (t) => {
  const { s, sent } = target(false);
  const k = new KillSequence(10, fixedClock(0), s);
  k.kill('Killed by server request');
  await k.escalation;
  t.same(sent, ['TERM'], 'nothing could be KILLed yet');
  t.notOk(k.escalated);
  s.reachable = true;
  k.reachable();
  t.same(sent, ['TERM', 'KILL']);
  t.ok(k.escalated);
});

t.test('a kill that came before the job was reachable sends its TERM when it is', async (t) => {
  const { s, sent } = target();
  const k = new KillSequence(60_000, fixedClock(0), s);
  k.kill('Killed by server request');
  sent.length = 0;
  k.reachable();
  t.same(sent, ['TERM']);
  k.end();
});

t.test('resumed after a restart: no second TERM, KILL when it was due, the reason kept', async (t) => {
  const clock = fixedClock(5000);
  const { s, sent, began } = target();
  const k = new KillSequence(60_000, clock, s);
  k.resume('Memory limit exceeded: used 152m, limit 100m * 1', 4000); // already due
  await k.escalation;
  t.same(sent, ['KILL']);
  t.same(began, [], 'it was recorded before the restart');
  k.kill('Killed by server request');
  t.equal(k.reason, 'Memory limit exceeded: used 152m, limit 100m * 1');
});

t.test('ended: nothing is sent any more', async (t) => {
  const { s, sent } = target();
  const k = new KillSequence(10, fixedClock(0), s);
  k.kill('x');
  k.end();
  await new Promise((r) => setTimeout(r, 40));
  t.same(sent, ['TERM'], 'no KILL after the run is over');
  k.kill('y');
  t.same(sent, ['TERM']);
  k.keep('z');
  t.equal(k.reason, 'x', 'keep does not replace a reason');
});
