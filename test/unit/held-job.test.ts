// A held job's phases and the steps between them (worker/heldJob.ts): each step checks where
// it comes from, so a job cannot, say, start running after the master took it away.
import t from 'tap';
import { HeldJob, Phases } from '../../src/worker/heldJob.js';
import type { Execution } from '../../src/worker/execution.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';
import { resultWithoutRun } from '../../src/common/outcomes.js';

const job = { ...makeJobSpec({ command: 'true', workingPath: '/tmp' }), handle: 'J-abc123', lease: 'L1', attempt: 1 };
const run = { job, result: new Promise(() => {}) } as unknown as Execution;

t.test('assigned → staging → running → delivering → gone', async (t) => {
  const h = HeldJob.assigned(job, false);
  t.equal(h.phase, Phases.staging);
  t.ok(h.listed, 'listed in the hello');
  h.setModeRunning(run);
  t.equal(h.phase, Phases.running);
  t.equal(h.run, run);
  t.equal(h.files, run, 'its output is to be sent');
  h.setModeDelivering(resultWithoutRun(0, null));
  t.equal(h.phase, Phases.delivering);
  t.equal(h.run, null, 'the run is over');
  t.equal(h.files, run, 'its output is still to be sent until the result is acknowledged');
  t.equal(h.setModeGone(), run, 'gone: the run to clean up');
  t.equal(h.phase, Phases.gone);
  t.notOk(h.listed);
});

t.test('behind an old copy it waits, then stages', async (t) => {
  const h = HeldJob.assigned(job, true);
  t.equal(h.phase, Phases.waiting);
  t.throws(() => h.setModeRunning(run), /waiting → running is not a step/);
  h.setModeStaging(null);
  t.equal(h.phase, Phases.staging);
});

t.test('dropped: no run starts, no result is held, and dropping twice is a no-op', async (t) => {
  const h = HeldJob.assigned(job, false);
  t.ok(h.setModeDropped());
  t.notOk(h.setModeDropped(), 'already dropped');
  t.ok(h.dropped);
  t.notOk(h.listed, 'not listed in the hello');
  t.throws(() => h.setModeRunning(run), /dropped → running/);
  t.throws(() => h.setModeDelivering(resultWithoutRun(0, null)), /dropped → delivering/);
});

t.test('taken back after a restart it is running, with its output to send', async (t) => {
  const h = HeldJob.takenBack(run);
  t.equal(h.phase, Phases.running);
  t.equal(h.files, run);
  t.throws(() => h.amendResult(resultWithoutRun(1, 'x')), /running → delivering/, 'a result is amended only while delivering');
});

t.test('a reconnect sends the result again', async (t) => {
  const h = HeldJob.assigned(job, false);
  h.setModeDelivering(resultWithoutRun(125, 'Could not place the job here'));
  h.resultSent = true;
  h.outSynced = true;
  h.reconnected();
  t.notOk(h.resultSent);
  t.notOk(h.outSynced);
});
