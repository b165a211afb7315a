// -keepFinished removes finished jobs that ended before the limit, with their logs, in
// batches; ready and running jobs, and recent finished ones, stay.
import t from 'tap';
import { openDb } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { fixedClock } from '../../src/common/clock.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';
import { Pruner, PRUNE_BATCH } from '../../src/master/pruner.js';
import type { Hub } from '../../src/master/hub.js';

const DAY = 86_400_000;
const plain = { worker: 'w', host: 'h', memBudget: 10_000, maxTime: null, docker: false, bare: true, cpuBudget: 64, gpuBudget: 0, queues: [] };

t.test('old finished jobs go with their logs; the rest stay', async (t) => {
  const clock = fixedClock(100 * DAY);
  const jobs = new JobStore(openDb(':memory:'));
  const removedLogs: string[] = [];
  const lines: string[] = [];
  const hub = { jobs, clock, logs: { discard: (h: string) => removedLogs.push(h), settled: () => Promise.resolve() }, log: (l: string) => lines.push(l) } as unknown as Hub;
  const spec = makeJobSpec({ command: 'true', workingPath: '/tmp' });
  const finishAt = (count: number, at: number, exitCode = 0) => {
    const handles = jobs.insert(Array.from({ length: count }, () => spec), at);
    for (const h of handles) {
      const c = jobs.claim(plain)!;
      t.equal(c.handle, h);
      jobs.finish(h, c.lease, { exitCode, exitReason: null, realTime: 1, userTime: 0, maxMem: 1, maxDisk: 0 }, at);
    }
    return handles;
  };
  const old = [...finishAt(PRUNE_BATCH + 20, 10 * DAY), ...finishAt(5, 20 * DAY, 1)];
  const recent = finishAt(3, 95 * DAY);
  const [running] = jobs.insert([{ ...spec, command: 'sleep 9' }], 2 * DAY);
  jobs.markRunning(running!, jobs.claim({ ...plain, worker: 'w2' })!.lease, 2 * DAY);
  const [ready] = jobs.insert([spec], 1 * DAY);
  const pruner = new Pruner(hub, 30 * DAY);
  t.equal(await pruner.run(), old.length, 'every finished job older than 30 days, done or failed');
  t.same(removedLogs.sort(), [...old].sort(), 'with their logs');
  for (const h of old) t.equal(jobs.get(h), undefined);
  for (const h of [...recent, ready!, running!]) t.ok(jobs.get(h), `${h} stays`);
  t.equal(jobs.get(ready!)!.status, 'ready');
  t.equal(jobs.get(running!)!.status, 'running');
  t.match(lines.join('\n'), new RegExp(`Removed ${old.length} finished jobs older than -keepFinished`));
  t.equal(await pruner.run(), 0, 'nothing more to do');
  clock.advance(70 * DAY);
  t.equal(await pruner.run(), 3, 'the recent ones, once they are old too');
});
