// The exit codes and reasons q gives, from their one place.
import t from 'tap';
import { ExitCodes, Reasons, resultWithoutRun, signalExitCode } from '../../src/common/outcomes.js';

t.test('a signal is 128 + its number, as a shell reports it', async (t) => {
  t.equal(signalExitCode('SIGKILL'), ExitCodes.KILLED);
  t.equal(signalExitCode('SIGTERM'), ExitCodes.TERMINATED);
  t.equal(signalExitCode('SIGINT'), 130);
});

t.test('reasons and a result without a run', async (t) => {
  t.equal(Reasons.timeLimit(2.04, 2), 'Time limit exceeded: ran 2.0s, limit 2s');
  t.equal(Reasons.memLimit(152, 100, 1), 'Memory limit exceeded: used 152m, limit 100m * 1');
  t.equal(Reasons.diskLimit(12, 10), 'Disk limit exceeded: outPath holds 12m, limit 10m');
  t.same(resultWithoutRun(ExitCodes.NOT_PROVIDED, 'x'), { exitCode: 125, exitReason: 'x', realTime: 0, userTime: 0, maxMem: -1, maxDisk: -1 });
});

t.test('signal names from the forms the Docker engine uses', async (t) => {
  const { signalName } = await import('../../src/common/outcomes.js');
  t.equal(signalName('15'), 'SIGTERM');
  t.equal(signalName('9'), 'SIGKILL');
  t.equal(signalName('TERM'), 'SIGTERM');
  t.equal(signalName('SIGINT'), 'SIGINT');
});
