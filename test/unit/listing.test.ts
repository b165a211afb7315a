// Listings are read a page at a time, through indexes where the SPEC allows, and not read on
// while the client has not taken what was sent: counted in rows read, never in seconds.
import t from 'tap';
import { openDb } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { makeJobSpec, type JobSpec } from '../../src/protocol/jobSpec.js';
import { PAGE_ROWS, actOnPages, streamListing } from '../../src/master/listing.js';
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
  const { hub } = table(PAGE_ROWS * 2 + 7);
  const { pages, done } = collect(hub, []);
  t.equal(pages.length, 1, 'one page now; the rest on later turns of the event loop');
  await done;
  t.same(pages.map((p) => p.jobs.length), [PAGE_ROWS, PAGE_ROWS, 7]);
  t.same(pages.map((p) => p.last), [false, false, true]);
  const handles = pages.flatMap((p) => p.jobs.map((j) => j.handle));
  t.equal(new Set(handles).size, PAGE_ROWS * 2 + 7);
  t.same(handles, pages.flatMap((p) => p.jobs).sort((a, b) => a.createdAt - b.createdAt || 0).map((j) => j.handle));
});

t.test('a client that does not read holds the listing at one page', async (t) => {
  const { jobs, hub } = table(PAGE_ROWS * 10);
  let backlog = 0;
  const { pages, done } = collect(hub, [], () => backlog);
  backlog = 50 * 1024 * 1024; // the first page is still in its socket
  await new Promise((r) => setTimeout(r, 100));
  t.equal(pages.length, 1, 'nothing more is read while it waits');
  t.equal(jobs.pages.rowsRead, PAGE_ROWS);
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
  t.equal(jobs.pages.rowsRead, PAGE_ROWS, 'no page read after it left');
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
    await new Promise<void>((resolve, reject) => actOnPages(hub, specs, (page) => found.push(...page.map((j) => j.handle)), resolve, reject));
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
