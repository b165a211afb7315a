import t from 'tap';
import { ALIGN_ROWS, TableStream, jobRow, renderTable } from '../../src/client/render.js';
import { shortenCommand } from '../../src/jobs/listCells.js';
import { compileSpecs } from '../../src/jobs/filter.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';
import type { JobView } from '../../src/protocol/jobState.js';

const job = (over: Partial<JobView> = {}): JobView => ({
  ...makeJobSpec({ command: 'echo hi', workingPath: '/tmp', time: 3600, mem: 100, disk: 1000 }),
  handle: 'J-abc123', status: 'ready', createdAt: 0, worker: null, workerHostname: null, attempt: 0, startedAt: null,
  finishedAt: null, exitCode: null, exitReason: null, realTime: -1, userTime: -1, maxMem: -1, maxDisk: -1, curMem: -1,
  logDropped: 0, retried: 0, retryCodes: [], retryAt: null, ...over,
});

t.test('long commands keep 38 characters at each end', async (t) => {
  const short = 'x'.repeat(77);
  t.equal(shortenCommand(short), short);
  const long = 'a'.repeat(40) + 'b'.repeat(40);
  t.equal(shortenCommand(long), 'a'.repeat(38) + '...' + 'b'.repeat(38));
});

t.test('-tabs rows: raw numbers, -1 unknown, fixed column order', async (t) => {
  const done = job({
    status: 'done', worker: 'w1', workerHostname: 'host', exitCode: 0, realTime: 3725.6, maxMem: 1536, maxDisk: -1,
    outPath: '/data/run/3.exec',
  });
  t.same(jobRow(done, true), ['J-abc123', 'w1 host', 'done', '0', '', '3726', '1536', '-1', '3.exec', 'echo hi']);
  t.same(jobRow(done, false).slice(5, 8), ['1h2m', '1536m', '']);
  t.same(jobRow(job(), true).slice(1, 8), ['', 'ready', '', '', '-1', '-1', '-1']);
  t.equal(jobRow(job({ exitReason: 'a\tb\nc' }), true)[4], 'a b c', 'no tab or newline breaks a row');
  t.same(['/data/run/', 'run', '/'].map((outPath) => jobRow(job({ outPath }), true)[8]), ['run', 'run', ''], "outName as Node's path.basename gives it, in a browser's bundle too");
});

t.test('aligned tables: two spaces between columns, last column unpadded', async (t) => {
  const s = renderTable(['a', 'b', 'c'], [['x', 'yy', 'z'], ['xxx', 'y', 'zz']], { tabs: false, headers: true });
  t.equal(s, 'a    b   c\nx    yy  z\nxxx  y   zz');
  t.equal(renderTable(['a', 'b'], [['1', '2']], { tabs: true, headers: false }), '1\t2');
});

t.test('spec filters', async (t) => {
  const j = job({ tags: ['t1'], command: 'python train.py --lr 0.1', status: 'running', outPath: '/x/pool/4.exec' });
  const m = (...specs: string[]) => compileSpecs(specs)(j);
  t.ok(m('all'));
  t.ok(m('status:running'));
  t.notOk(m('status:done'));
  t.ok(m('tag:t1,status:running'));
  t.notOk(m('tag:t1,status:done'));
  t.ok(m('tag:t2', 'status:running'));
  t.ok(m('cmd:train.py'));
  t.notOk(m('cmd:train'));
  t.ok(m('outPath:4.exec'));
  t.ok(m('outPath:pool/4.exec'));
  t.notOk(m('outPath:.exec'));
  t.ok(m('outPath:4.e.ec'), 'outPath: is a regular expression, as in fig');
  t.ok(compileSpecs(['outPath:o.t1'])(job({ outPath: '/data/out1' })), "fig's own example");
  t.notOk(m('outPath:pool'), 'anchored at the end');
  t.notOk(m('outPath:ool/4.exec'), 'and after a /');
  t.ok(compileSpecs(['outPath:(a+)+'])(job({ outPath: '/d/(a+)+' })), 'a quantified group is plain text (it could stall the master)');
  t.ok(compileSpecs(['outPath:a(b'])(job({ outPath: '/d/a(b' })), 'not an expression: plain text');
  t.ok(m('J-abc123'));
  t.ok(m('t1'));
  t.notOk(m('unknownkey:x'));
  const web = job({ command: 'curl host:8080' });
  t.ok(compileSpecs(['host:8080'])(web), 'an unknown KEY: makes a bare value');
  t.notOk(m());
});

t.test('-w: time since last contact is never negative', async (t) => {
  const w = {
    handle: 'w1', connected: true, slots: 1, jobs: [], lastSeen: 10_000,
    resources: { hostname: 'h', cpus: 2, cpuSpeed: 1000, freeMem: 100, freeDisk: 1000, busyProcesses: [], docker: null, bare: true, gpus: 0 },
  };
  const { workerRow } = await import('../../src/client/render.js');
  t.equal(workerRow(w as never, 12_500)[10], '-2s');
  // A heartbeat recorded after the master read its clock for this answer.
  t.equal(workerRow(w as never, 9_700)[10], '-0s');
});

t.test("a streamed table is aligned over its first ALIGN_ROWS rows, whatever pages bring them", async (t) => {
  // The master's first page is short (100 rows); a wider cell in the second must still set the width.
  const header = ['handle', 'status', 'command'];
  const row = (i: number, status: string) => [`J-${String(i).padStart(6, '0')}`, status, 'true'];
  const pages = [Array.from({ length: 100 }, (_, i) => row(i, 'done')), Array.from({ length: 400 }, (_, i) => row(100 + i, i === 7 ? 'running' : 'done'))];
  const printed: string[] = [];
  const table = new TableStream(header, { tabs: false, headers: true }, (text) => printed.push(text));
  for (const page of pages) table.rows(page.map((r) => [...r]));
  t.same(printed, [], `nothing printed before ${ALIGN_ROWS} rows or the end`);
  table.end();
  t.equal(printed.join('\n'), renderTable(header, pages.flat(), { tabs: false, headers: true }), 'as the whole table prints');

  const tabs: string[] = [];
  const fast = new TableStream(header, { tabs: true, headers: false }, (text) => tabs.push(text));
  fast.rows(pages[0]!.map((r) => [...r]));
  t.equal(tabs.length, 1, '-tabs prints its first page at once');
});
