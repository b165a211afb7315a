// Listings are read a page at a time, through indexes where the SPEC allows, and not read on
// while the client has not taken what was sent: counted in rows read, never in seconds.
import t from 'tap';
import { openDb } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { makeJobSpec, type JobSpec } from '../../src/protocol/jobSpec.js';
import * as z from 'zod';
import { FIRST_PAGE_ROWS, PAGE_ROWS, ROW_PAGE_ROWS, actOnPages, onePage, streamListing, streamRows } from '../../src/master/listing.js';
import { ListRowSchema, listRowOf, type ListRow } from '../../src/protocol/listRow.js';
import type { Hub } from '../../src/master/hub.js';
import type { JobView } from '../../src/protocol/jobState.js';

function spec(over: Partial<JobSpec> = {}): JobSpec {
  return makeJobSpec({ command: 'true', workingPath: '/tmp', time: 3600, mem: 100, disk: 1000, ...over });
}

function table(n: number) {
  const jobs = new JobStore(openDb(':memory:'));
  jobs.insert(Array.from({ length: n }, () => spec()), 0);
  return { jobs, hub: { jobs } as unknown as Hub };
}

function collect(hub: Hub, specs: string[], buffered = () => 0) {
  const pages: { jobs: JobView[]; last: boolean }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    streamListing(hub, specs, { page: (jobs, last) => (pages.push({ jobs, last }), last && resolve()), failed: reject }, { buffered });
  });
  return { pages, done };
}

t.test('a listing comes in pages, in table order, the last one marked', async (t) => {
  const { hub } = table(FIRST_PAGE_ROWS + PAGE_ROWS * 2 + 7);
  const { pages, done } = collect(hub, []);
  t.equal(pages.length, 1, 'one page now; the rest on later turns of the event loop');
  await done;
  t.same(pages.map((p) => p.jobs.length), [FIRST_PAGE_ROWS, PAGE_ROWS, PAGE_ROWS, 7], 'a short first page, so the first rows show at once');
  t.same(pages.map((p) => p.last), [false, false, false, true]);
  const handles = pages.flatMap((p) => p.jobs.map((j) => j.handle));
  t.equal(new Set(handles).size, FIRST_PAGE_ROWS + PAGE_ROWS * 2 + 7);
  t.same(handles, pages.flatMap((p) => p.jobs).sort((a, b) => a.createdAt - b.createdAt || 0).map((j) => j.handle));
});

t.test('a client that does not read holds the listing at one page', async (t) => {
  const { jobs, hub } = table(PAGE_ROWS * 10);
  let backlog = 0;
  const { pages, done } = collect(hub, [], () => backlog);
  backlog = 50 * 1024 * 1024; // the first page is still in its socket
  await new Promise((r) => setTimeout(r, 100));
  t.equal(pages.length, 1, 'nothing more is read while it waits');
  t.equal(jobs.pages.rowsRead, FIRST_PAGE_ROWS);
  backlog = 0;
  await done;
  t.equal(pages.flatMap((p) => p.jobs).length, PAGE_ROWS * 10, 'all of it, once it reads again');
  backlog = Infinity;
});

t.test('a client that went away ends the listing', async (t) => {
  const { jobs, hub } = table(PAGE_ROWS * 4);
  let gone = 0;
  collect(hub, [], () => gone);
  gone = Infinity;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(jobs.pages.rowsRead, FIRST_PAGE_ROWS, 'no page read after it left');
});

t.test('SPECs the store can answer read only the rows they name', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const hub = { jobs } as unknown as Hub;
  jobs.insert(Array.from({ length: 5000 }, () => spec()), 0);
  const tagged = jobs.insert([spec({ tags: ['x', 'sweep'] }), spec({ tags: ['x'] }), spec({ queue: 'gpu', tags: ['sweep'] })], 0);
  jobs.insert(Array.from({ length: 5000 }, () => spec()), 0);
  const read = async (specs: string[]) => {
    const before = jobs.pages.rowsRead;
    const found: string[] = [];
    await new Promise<void>((resolve, reject) => actOnPages(hub, specs, (page) => void found.push(...page.map((j) => j.handle)), resolve, reject));
    return { found, rows: jobs.pages.rowsRead - before };
  };
  t.same(await read(['tag:x']), { found: [tagged[0], tagged[1]], rows: 2 });
  t.same(await read(['tag:x,tag:sweep']), { found: [tagged[0]], rows: 2 }, 'AND: one index, the other term checked');
  t.same(await read(['queue:gpu', tagged[1]!]), { found: [tagged[1], tagged[2]], rows: 2 }, 'OR of two indexes, in table order');
  t.same(await read([`handle:${tagged[0]}`]), { found: [tagged[0]], rows: 1 });
  t.same(await read(['status:running']), { found: [], rows: 0 });
  t.same(await read(['worker:w1']), { found: [], rows: 0 });
  t.equal((await read(['cmd:true'])).rows, 10_003, 'a SPEC no index answers reads every row (a page at a time)');
  jobs.delete([tagged[0]!]);
  t.same(await read(['tag:x']), { found: [tagged[1]], rows: 1 }, 'a deleted job leaves the tag index');
});

// -list's rows, written as JSON by the store: the same rows the views give, checked by the
// client's own schema, and only what the SPEC names read.
function collectRows(hub: Hub, specs: string[], buffered = () => 0) {
  const pages: { rows: ListRow[]; last: boolean; json: boolean }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const add = (rows: ListRow[], last: boolean, json: boolean) => (pages.push({ rows, last, json }), last && resolve());
    const sink = {
      json: (text: string, last: boolean) => add(z.array(ListRowSchema).parse(JSON.parse(text)), last, true),
      rows: (rows: ListRow[], last: boolean) => add(rows, last, false),
      failed: reject,
    };
    streamRows(hub, specs, sink, { buffered });
  });
  return { pages, done };
}

t.test("-list's rows: the store's JSON says what the views say, page by page", async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const n = FIRST_PAGE_ROWS + ROW_PAGE_ROWS + 5;
  const handles = jobs.insert(
    Array.from({ length: n }, (_, i) => spec({ command: `echo ${i} "quoted" \\ back\tslash`, outPath: i % 2 ? `/out/${i}` : null, tags: i % 3 ? [] : ['three'] })),
    1000,
  );
  const c = jobs.claim({ worker: 'w1', host: 'h1', memBudget: 1e9, maxTime: null, docker: false, bare: true, cpuBudget: 8, gpuBudget: 0, queues: [] })!;
  jobs.finish(c.handle, c.lease, { exitCode: 3, exitReason: 'odd\treason', realTime: 1.5, userTime: 0, maxMem: 12.25, maxDisk: 0 }, 5000);
  const hub = { jobs } as unknown as Hub;
  const views: JobView[] = [];
  await new Promise<void>((resolve, reject) => streamListing(hub, [], { page: (part, last) => (views.push(...part), last && resolve()), failed: reject }, { buffered: () => 0 }));

  const all = collectRows(hub, []);
  await all.done;
  t.same(all.pages.map((p) => [p.rows.length, p.last, p.json]), [[FIRST_PAGE_ROWS, false, true], [ROW_PAGE_ROWS, false, true], [5, true, true]]);
  t.same(all.pages.flatMap((p) => p.rows), views.map(listRowOf), 'every row as its view gives it, in table order');

  const before = jobs.pages.rowsRead;
  const tagged = collectRows(hub, ['tag:three']);
  await tagged.done;
  t.equal(tagged.pages.flatMap((p) => p.rows).length, Math.ceil(n / 3));
  t.equal(jobs.pages.rowsRead - before, Math.ceil(n / 3), 'a tag reads only its rows');

  const some = collectRows(hub, [handles[7]!, `handle:${handles[3]!}`, 'J-zzzzzz']);
  await some.done;
  t.same(some.pages.flatMap((p) => p.rows.map((r) => r[0])), [handles[3], handles[7]], 'handles, in table order');

  const filtered = collectRows(hub, ['cmd:4']);
  await filtered.done;
  t.same(filtered.pages.flatMap((p) => p.rows.map((r) => r[0])), [handles[4]], 'a SPEC the store cannot answer exactly: checked row by row');
  t.notOk(filtered.pages.some((p) => p.json), '...and cut from views');

  const none = collectRows(hub, ['status:running']);
  await none.done;
  t.same(none.pages, [{ rows: [], last: true, json: true }], 'nothing: one empty last page');
});

t.test("the dashboard's pages: oldest or newest first, through the index or not, each cursor going on where the last page ended", async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const handles = jobs.insert(Array.from({ length: 25 }, (_, i) => spec({ tags: i % 2 ? ['odd'] : [] })), 0);
  const hub = { jobs } as unknown as Hub;
  const odd = handles.filter((_, i) => i % 2);
  const walk = (specs: string[], newest: boolean, limit: number) => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let from: number | null = null;
    for (let i = 0; i < 20; i++) {
      const page: { rows: ListRow[]; next: number | null } = onePage(hub, specs, from, limit, newest);
      seen.push(...page.rows.map((r) => r[0]));
      sizes.push(page.rows.length);
      if (page.next === null) break;
      from = page.next;
    }
    return { seen, sizes };
  };
  for (const [what, specs, all] of [['every job', [], handles], ['a tag (index)', ['tag:odd'], odd], ['a status (index)', ['status:ready'], handles], ['handles', odd.slice(0, 5), odd.slice(0, 5)], ['a command (no index)', ['cmd:true'], handles], ['a tag and a command (the index, then a check)', ['tag:odd,cmd:true'], odd]] as const) {
    t.same(walk([...specs], false, 4).seen, all, `${what}, oldest first`);
    t.same(walk([...specs], true, 4).seen, [...all].reverse(), `${what}, newest first`);
  }
  t.same(walk([], true, 10).sizes, [10, 10, 5], 'pages of the limit, the last one short');
  for (const specs of [['tag:odd'], ['tag:odd,cmd:true']]) {
    const before = jobs.pages.rowsRead;
    onePage(hub, specs, null, 3, true);
    t.equal(jobs.pages.rowsRead - before, 3, `a newest-first page of ${specs[0]} through the index reads only its rows`);
  }
});
