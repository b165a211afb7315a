// An add is one thing: a master killed -9 at any moment of a 200,000-line add leaves, once
// it is back, every job of it or none, and the client says which (store/adds.ts).
import t from 'tap';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

const N = 200_000;

t.test('a 200,000-line add, its master killed -9 at several moments: every job or none, and said', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const lines = join(c.dir, 'lines');
  writeFileSync(lines, Array.from({ length: N }, (_, i) => `true ${i}`).join('\n') + '\n');
  // (a kept connection to a master that was killed fails once, then opens again)
  const count = async () => (await waitFor('a count', () => c.ask((conn) => conn.request({ type: 'count', specs: ['all'] }, 'count')))).n;
  const seen = new Set<string>();
  // Killed once a tenth and once half of its batches have arrived (counted, not timed: a
  // faster machine meets the same moments), and as soon as the last has: the master is then
  // making them ready, a slice at a time.
  for (const moment of [N / 10, N / 2, N] as const) {
    const before = await count();
    const fd = openSync(lines, 'r');
    const client = c.spawnQ(['-masterPort', String(c.port), '-hold', '-add', '-'], { stdin: fd });
    closeSync(fd);
    await waitFor(`${moment} jobs there`, async () => (await count()) - before >= moment, 40_000, 20);
    await c.master!.stop('SIGKILL');
    await c.startMaster();
    const code = await client.exited();
    const added = (await count()) - before;
    const said = client.out.split('\n').filter((l) => l.startsWith('q: ')).join(' ');
    if (added === 0) {
      seen.add('none');
      t.not(code, 0, `killed at ${moment} jobs: none added, and the client failed`);
      t.match(said, new RegExp(`none of the ${N} jobs was added`), `killed at ${moment} jobs: it says none (${said})`);
    } else {
      seen.add('all');
      t.equal(added, N, `killed at ${moment} jobs: all ${N} jobs or none (${added})`);
      if (code !== 0) t.match(said, new RegExp(`all ${N} jobs were added`), `killed at ${moment} jobs: it says all (${said})`);
      else t.equal(client.out.match(/added successfully/g)?.length, N, 'the answer came: every handle printed');
    }
  }
  t.ok(seen.has('none'), 'an add cut short was undone');
  t.ok(seen.has('all'), 'an add made was finished');
  t.equal(c.q(['-list', 'status:ready', '-tabs']).stdout, '', 'none of them ready: they were added held');
});
