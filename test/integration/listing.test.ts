// Big listings as a user sees them: `q -list` prints a paged listing whole and in order, as
// one table; `-json` is the same JSON array it always was; and a master busy sending a big
// listing still answers an add before that listing ends.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, type Teardown } from '../helpers/q.js';
import { Connection, listPages } from '../../src/client/connection.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';

const N = 1200; // more than two pages (PAGE_ROWS 500), under the helper's 1 MB of output

async function big(t: Teardown, n = N) {
  const c = new Cluster(t);
  await c.startMaster();
  const token = readFileSync(join(c.dir, 'state', 'token'), 'utf8').trim();
  const open = () => Connection.open({ host: '127.0.0.1', port: c.port, token, timeoutMs: 10_000 });
  const conn = await open();
  t.teardown(() => conn.close());
  const spec = (i: number) => makeJobSpec({ command: `echo ${i}`, workingPath: '/tmp', queue: 'nobody', tags: i % 2 ? ['odd'] : [] });
  const handles: string[] = [];
  for (let i = 0; i < n; i += 5000) {
    // Batches, as the client sends them: one request must fit in a frame (8 MB).
    const jobs = Array.from({ length: Math.min(5000, n - i) }, (_, k) => spec(i + k));
    handles.push(...(await conn.request({ type: 'add', jobs }, 'added')).handles);
  }
  return { c, conn, open, handles };
}

t.test('q -list of thousands of jobs: every row once, in order, one aligned table; -json as before', async (t) => {
  const { c, handles } = await big(t);
  const out = c.q(['-list', '-headers']).stdout.trimEnd().split('\n');
  t.equal(out.length, N + 1, 'a header and every job');
  t.match(out[0], /^handle\s+worker\s+status/);
  t.same(out.slice(1).map((l) => l.split(/\s+/)[0]), handles, 'in the order they were added');
  const statusAt = out[0]!.indexOf('status');
  t.ok(out.every((l) => l.slice(statusAt).startsWith('status') || l.slice(statusAt).startsWith('ready')), 'one column width throughout');
  const json = c.q(['-list', 'tag:odd', '-json']).stdout;
  const parsed = JSON.parse(json) as { handle: string }[];
  t.same(parsed.map((j) => j.handle), handles.filter((_, i) => i % 2), 'tag:odd, by its index');
  t.equal(json, JSON.stringify(parsed, null, 2) + '\n', 'byte for byte the JSON.stringify(jobs, null, 2) of old');
  t.equal(c.q(['-list', 'status:done', '-json']).stdout, '[]\n');
  t.equal(c.q(['-list', 'status:done']).stdout, '', 'no rows, no headers: nothing');
  t.match(c.q(['-list', 'status:done', '-headers']).stdout, /^handle {2}worker {2}status {2}\S.*\n$/, 'no rows: the header alone');
});

t.test('an add sent during a big listing is answered before the listing ends', async (t) => {
  const { conn, open } = await big(t, 20_000); // 40 pages: the add arrives while they go
  const other = await open();
  t.teardown(() => other.close());
  const order: string[] = [];
  let pages = 0;
  const added: Promise<unknown>[] = [];
  await listPages(conn, [], (_jobs, last) => {
    pages++;
    if (pages === 1) {
      added.push(other.request({ type: 'add', jobs: [makeJobSpec({ command: 'true', workingPath: '/tmp' })] }, 'added').then(() => order.push('add answered')));
    }
    if (last) order.push('listing ended');
  });
  await Promise.all(added);
  t.ok(pages >= 40, `the listing came in ${pages} pages`);
  t.same(order, ['add answered', 'listing ended']);
});
