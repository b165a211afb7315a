// Listings take turns: 200 of them at once cannot keep an add from being answered. Judged by
// the order of the answers, not by a clock (this machine's speed is not the test's business).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '../../src/client/connection.js';
import { Cluster } from '../helpers/q.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';

t.test('an add sent during 60 listings is answered before most of them', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  c.q(['-workerHandle', 'nobody', '-add', '-'], { input: Array.from({ length: 1000 }, (_, i) => `echo ${i}`).join('\n') });
  const token = readFileSync(join(c.state, 'token'), 'utf8').trim();
  const open = () => Connection.open({ host: '127.0.0.1', port: c.port, token, timeoutMs: 5000 });
  const lister = await open();
  const adder = await open();
  t.teardown(() => {
    lister.close();
    adder.close();
  });
  const order: string[] = [];
  const lists = Array.from({ length: 60 }, () =>
    lister.request({ type: 'list', specs: [] }, 'jobs').then((r) => {
      order.push('list');
      return r.jobs.length;
    }));
  await new Promise((r) => setImmediate(r));
  const added = adder.request({ type: 'add', jobs: [{ ...baseSpec(c.dir), workerHandle: 'nobody' }] }, 'added').then(() => order.push('add'));
  await Promise.all([...lists, added]);
  const at = order.indexOf('add');
  t.ok(at >= 0 && at < 30, `the add was answered after ${at} of 60 listings`);
  t.ok((await lists[0]!) >= 1000, 'the listings are whole');
});

function baseSpec(dir: string) {
  return makeJobSpec({ command: 'true', workingPath: dir, time: 3600, mem: 100, memGrace: 1.5, disk: 1024 });
}
