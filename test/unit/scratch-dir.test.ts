import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { scratchDir, waitFor } from '../helpers/q.js';

// The integration tests' directories are removed while nothing writes into them any more:
// a process still writing there is ended first, and the removal then succeeds.
t.test('a scratch directory goes after what runs in it', async (t) => {
  let dir = '';
  let writer: ChildProcess | undefined;
  await t.test('a process writes into it until the end', async (t) => {
    dir = scratchDir(t);
    // Bounded: at most 20,000 files, or 200 s.
    const child = spawn('sh', ['-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); : > f$i; sleep 0.01; done'], { cwd: dir, stdio: 'ignore' });
    writer = child;
    await waitFor('the first files', () => readdirSync(dir).length > 5, 5000);
    t.pass('writing');
  });
  t.notOk(existsSync(dir), 'removed');
  await waitFor('the writer to be reaped', () => writer!.signalCode !== null || writer!.exitCode !== null, 5000);
  t.equal(writer!.signalCode, 'SIGKILL', 'the writer was ended, not left to finish');
});
