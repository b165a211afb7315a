// Numbered job handles (store/handles.ts): they append to the handle index, a mistyped handle
// names no job, another database's handles are elsewhere, and a table of old random handles
// goes on working.
import t from 'tap';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/q.js';
import { openDb, type Db } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { handleOf, STRIDE } from '../../src/store/handles.js';
import { HANDLE_PATTERN } from '../../src/protocol/fields.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';

const NOW = 1_764_582_000_000;
const spec = makeJobSpec({ command: 'true', workingPath: '/tmp' });
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';
const base = (db: Db) => Number((db.prepare(`SELECT value FROM meta WHERE key = 'handle_base'`).get() as { value: string }).value);

/** Every handle one wrong character or one swap of neighbours away from `h`. */
function typos(h: string): string[] {
  const d = h.slice(2);
  const out: string[] = [];
  for (let i = 0; i < 6; i++) {
    for (const c of DIGITS) if (c !== d[i]) out.push(`J-${d.slice(0, i)}${c}${d.slice(i + 1)}`);
    if (i < 5 && d[i] !== d[i + 1]) out.push(`J-${d.slice(0, i)}${d[i + 1]}${d[i]}${d.slice(i + 2)}`);
  }
  return out;
}

t.test('handles come in order, each a stride on from the last, and fill the index from its end', async (t) => {
  const db = openDb(':memory:');
  const jobs = new JobStore(db);
  const a = jobs.insert(Array.from({ length: 500 }, () => spec), NOW);
  const b = jobs.insert(Array.from({ length: 500 }, () => spec), NOW);
  const all = [...a, ...b];
  for (const h of all) t.match(h, HANDLE_PATTERN);
  t.equal(new Set(all).size, all.length, 'no two alike');
  const n = all.map((h) => parseInt(h.slice(2), 36));
  const steps = new Set(n.slice(1).map((v, i) => (v - n[i]! + 36 ** 6) % 36 ** 6));
  t.same([...steps], [STRIDE], 'each one STRIDE after the one before, across batches too');
  t.equal(all[0], handleOf(base(db), 1), 'the first job is number 1 of this database');
  const rows = db.prepare(`SELECT handle FROM jobs ORDER BY handle`).pluck().all() as string[];
  const wrapped = rows.indexOf(all[0]!);
  t.same([...rows.slice(wrapped), ...rows.slice(0, wrapped)], all, 'in the order of the index (from where the numbering starts)');
});

t.test('a handle typed with one character wrong or two swapped names no job', async (t) => {
  const jobs = new JobStore(openDb(':memory:'));
  const issued = jobs.insert(Array.from({ length: 5000 }, () => spec), NOW);
  const set = new Set(issued);
  let checked = 0;
  let hits = 0;
  for (const h of issued) {
    for (const typo of typos(h)) {
      checked++;
      if (set.has(typo)) hits++;
    }
  }
  t.ok(checked > 5000 * 200, `${checked} typos checked`);
  t.equal(hits, 0, 'none of them is another job');
  t.equal(jobs.get(typos(issued[42]!)[0]!), undefined, 'and the store finds nothing there');
});

t.test("another database's handles are elsewhere; a deleted job's handle is never given again", async (t) => {
  const one = new JobStore(openDb(':memory:'));
  const two = new JobStore(openDb(':memory:'));
  const a = new Set(one.insert(Array.from({ length: 1000 }, () => spec), NOW));
  const b = two.insert(Array.from({ length: 1000 }, () => spec), NOW);
  t.equal(b.filter((h) => a.has(h)).length, 0, 'two fresh databases share no handle');
  const [x, y] = one.insert([spec, spec], NOW);
  one.delete([x!, y!]);
  const [z] = one.insert([spec], NOW);
  t.not(z, x);
  t.not(z, y);
  t.equal(parseInt(z!.slice(2), 36), (parseInt(y!.slice(2), 36) + STRIDE) % 36 ** 6, 'numbering goes on past the deleted ones');
});

t.test('an old random handle where a numbered one falls: that job gets another, the rest go on', async (t) => {
  const db = openDb(':memory:');
  const jobs = new JobStore(db);
  jobs.insert([spec], NOW); // seq 1
  // As a table of random handles may hold: seq 2's numbered handle already taken, by seq 7.
  db.prepare(`INSERT INTO jobs (seq, handle, status, priority, time_limit, mem, spec, created_at) VALUES (7, ?, 'done', 0, 1, 1, '{}', 0)`).run(handleOf(base(db), 2));
  db.prepare(`DELETE FROM jobs WHERE seq = 7`).run();
  db.prepare(`INSERT INTO jobs (seq, handle, status, priority, time_limit, mem, spec, created_at) VALUES (3, ?, 'done', 0, 1, 1, '{}', 0)`).run(handleOf(base(db), 8));
  const [h] = jobs.insert([spec], NOW); // seq 8: its numbered handle is taken
  t.match(h, HANDLE_PATTERN);
  t.not(h, handleOf(base(db), 8), 'a handle off the numbering');
  t.equal(jobs.get(h!)?.handle, h, 'and the job is there under it');
  const [next] = jobs.insert([spec], NOW);
  t.equal(next, handleOf(base(db), 9), 'the next job is numbered again');
});

t.test('a database of schema 6, its handles random, gets a base and numbered handles after them', async (t) => {
  const path = join(t.testdir(), 'v6.sqlite');
  copyFileSync(join(FIXTURES, 'db', 'v6.sqlite'), path);
  const db = openDb(path);
  const old = db.prepare(`SELECT handle FROM jobs ORDER BY seq`).pluck().all() as string[];
  const last = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'jobs'`).pluck().get() as number;
  const jobs = new JobStore(db);
  const [h] = jobs.insert([spec], NOW);
  t.equal(h, handleOf(base(db), last + 1), 'numbered from the next seq');
  for (const o of old) t.equal(jobs.get(o)?.handle, o, `${o} still found`);
  db.close();
  const again = openDb(path);
  t.equal(new JobStore(again).insert([spec], NOW)[0], handleOf(base(again), last + 2), 'the base is kept across restarts');
});
