// Reading the job table a page at a time, in table order (seq), for listings that may be a
// million rows long: each page is one short query that goes on after the last row the
// previous page gave, so nothing holds a read transaction or the whole answer in memory.
// SPECs the store can answer (status, handle, tag, queue, worker) read only the rows they
// name, through an index; any other reads every row, a page at a time.
import type { Db } from './db.js';
import type { IndexTerm, IndexedKey } from '../jobs/filter.js';
import type { JobView } from '../protocol/jobState.js';
import { toView, VIEW_COLUMNS, type JobRow } from './jobRow.js';
import { EXIT_REASON_SQL } from './classReasons.js';

/** A page of -list's rows, as JSON the store wrote (an array of protocol/listRow.ts ListRows). */
export interface RowPage {
  json: string;
  rows: number;
  next: number | null;
}

export interface Page {
  jobs: JobView[];
  /** Where the next page goes on from; null when this was the last. */
  next: number | null;
}

/** Table order (oldest first: seqs after the cursor) or newest first (seqs below it). */
interface Direction {
  after: '>' | '<';
  order: 'ASC' | 'DESC';
  last: 'max' | 'min';
}
const OLDEST: Direction = { after: '>', order: 'ASC', last: 'max' };
const NEWEST_FIRST: Direction = { after: '<', order: 'DESC', last: 'min' };

// One query per value, each walking its index in table order (`key = ? AND seq > ?` needs no
// sort), except handles: each names at most one row, so all of them go in one `IN` query.
const byKey = (columns: string, d: Direction): Record<IndexedKey, string> => {
  const C = columns;
  const J = columns.split(', ').map((c) => (/^\w+$/.test(c) ? `jobs.${c}` : c)).join(', ');
  const page = (seq: string) => `${seq} ${d.after} @after ORDER BY ${seq} ${d.order} LIMIT @limit`;
  return {
    status: `SELECT ${C} FROM jobs INDEXED BY jobs_status WHERE status = @value AND ${page('seq')}`,
    handle: `SELECT ${C} FROM jobs WHERE handle IN (SELECT value FROM json_each(@value)) AND ${page('seq')}`,
    tag: `SELECT ${J} FROM job_tags JOIN jobs USING (seq) WHERE job_tags.tag = @value AND ${page('job_tags.seq')}`,
    queue: `SELECT ${C} FROM jobs INDEXED BY jobs_queue WHERE queue = @value AND ${page('seq')}`,
    worker: `SELECT ${C} FROM jobs INDEXED BY jobs_worker WHERE worker = @value AND worker IS NOT NULL AND ${page('seq')}`,
    array: `SELECT ${C} FROM jobs INDEXED BY jobs_array WHERE array_of = @value AND array_of IS NOT NULL AND ${page('seq')}`,
  };
};
const scan = (columns: string, d: Direction) => `SELECT ${columns} FROM jobs WHERE seq ${d.after} @after ORDER BY seq ${d.order} LIMIT @limit`;

// -list's rows are written as JSON by SQLite, a page in one string: no row becomes a
// JavaScript object on the master (2 µs a row, against 11.5 for a view read and encoded).
// The order of json_array's values is ListRow's (protocol/listRow.ts).
const ROW_COLUMNS = `seq, handle, worker, worker_host, status, exit_code, ${EXIT_REASON_SQL}, real_time, max_mem, max_disk, spec`;
const asRows = (inner: string, d: Direction) =>
  `SELECT json_group_array(json_array(handle, worker, worker_host, status, exit_code, exit_reason, real_time, max_mem, max_disk, spec ->> '$.outPath', spec ->> '$.command') ORDER BY seq ${d.order}) AS json, ` +
  `count(*) AS rows, ${d.last}(seq) AS last FROM (${inner})`;

/** Where a newest-first listing starts: below every seq. */
export const NEWEST = Number.MAX_SAFE_INTEGER;

type Statement = ReturnType<Db['prepare']>;

/** The queries of one direction: job views (by index, or every row) and -list's rows as JSON. */
interface Queries {
  by: Record<IndexedKey, Statement>;
  scan: Statement;
  rowsBy: Record<IndexedKey, Statement>;
  rowsScan: Statement;
}

export class JobPages {
  private readonly oldest: Queries;
  private readonly newest: Queries;
  /** Rows read from the table by pages (tests count them: a listing costs what it returns). */
  rowsRead = 0;

  constructor(db: Db) {
    const prepare = (queries: Record<IndexedKey, string>, wrap: (sql: string) => string = (sql) => sql) =>
      Object.fromEntries(Object.entries(queries).map(([k, sql]) => [k, db.prepare(wrap(sql))])) as Record<IndexedKey, Statement>;
    const queries = (d: Direction): Queries => ({
      by: prepare(byKey(VIEW_COLUMNS, d)),
      scan: db.prepare(scan(VIEW_COLUMNS, d)),
      rowsBy: prepare(byKey(ROW_COLUMNS, d), (sql) => asRows(sql, d)),
      rowsScan: db.prepare(asRows(scan(ROW_COLUMNS, d), d)),
    });
    this.oldest = queries(OLDEST);
    this.newest = queries(NEWEST_FIRST);
  }

  /**
   * Up to `limit` of -list's rows after `after`: every job (`all`), or what one term names
   * (handles: all of them in one term's query). `newest`: newest first, below `after`. The
   * SPECs must be exact (jobs/filter.ts exactTerms): nothing is checked on these rows.
   */
  rowPage(terms: 'all' | readonly IndexTerm[], after: number, limit: number, newest = false): RowPage {
    let r: { json: string; rows: number; last: number | null };
    const q = newest ? this.newest : this.oldest;
    if (terms === 'all') r = q.rowsScan.get({ after, limit }) as typeof r;
    else {
      const [first] = terms;
      if (!first) return { json: '[]', rows: 0, next: null };
      const value = first.key === 'handle' ? JSON.stringify(terms.map((t) => t.value)) : first.value;
      r = q.rowsBy[first.key].get({ value, after, limit }) as typeof r;
    }
    this.rowsRead += r.rows;
    return { json: r.json, rows: r.rows, next: r.rows < limit || r.last === null ? null : r.last };
  }

  /**
   * Up to `limit` rows after `after` (a seq; 0 = from the start), read through the index of
   * each term (null: every row), that `keep` accepts. `newest`: newest first, below `after`.
   */
  page(terms: readonly IndexTerm[] | null, after: number, limit: number, keep: (job: JobView) => boolean, newest = false): Page {
    let rows: JobRow[];
    const { by, scan } = newest ? this.newest : this.oldest;
    if (terms === null) rows = scan.all({ after, limit }) as JobRow[];
    else {
      // Each query's next rows, merged in table order: the union's next `limit` are among them.
      const handles = terms.filter((t) => t.key === 'handle').map((t) => t.value);
      const queries = terms.filter((t) => t.key !== 'handle').map((t) => ({ key: t.key, value: t.value }));
      if (handles.length) queries.push({ key: 'handle', value: JSON.stringify(handles) });
      const merged = new Map<number, JobRow>();
      for (const q of queries) for (const r of by[q.key].all({ value: q.value, after, limit }) as JobRow[]) merged.set(r.seq, r);
      rows = [...merged.values()].sort((a, b) => (newest ? b.seq - a.seq : a.seq - b.seq)).slice(0, limit);
    }
    this.rowsRead += rows.length;
    const jobs = rows.map(toView).filter(keep);
    return { jobs, next: rows.length < limit ? null : rows[rows.length - 1]!.seq };
  }
}
