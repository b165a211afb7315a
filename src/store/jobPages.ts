// Reading the job table a page at a time, in table order (seq), for listings that may be a
// million rows long: each page is one short query that goes on after the last row the
// previous page gave, so nothing holds a read transaction or the whole answer in memory.
// SPECs the store can answer (status, handle, tag, queue, worker) read only the rows they
// name, through an index; any other reads every row, a page at a time.
import type { Db } from './db.js';
import type { IndexTerm, IndexedKey } from '../jobs/filter.js';
import type { JobView } from '../protocol/jobState.js';
import { toView, VIEW_COLUMNS, type JobRow } from './jobRow.js';

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

// One query per value, each walking its index in table order (`key = ? AND seq > ?` needs no
// sort), except handles: each names at most one row, so all of them go in one `IN` query.
const byKey = (columns: string): Record<IndexedKey, string> => {
  const C = columns;
  const J = columns.split(', ').map((c) => `jobs.${c}`).join(', ');
  return {
    status: `SELECT ${C} FROM jobs INDEXED BY jobs_status WHERE status = @value AND seq > @after ORDER BY seq LIMIT @limit`,
    handle: `SELECT ${C} FROM jobs WHERE handle IN (SELECT value FROM json_each(@value)) AND seq > @after ORDER BY seq LIMIT @limit`,
    tag: `SELECT ${J} FROM job_tags JOIN jobs USING (seq) WHERE job_tags.tag = @value AND job_tags.seq > @after ORDER BY job_tags.seq LIMIT @limit`,
    queue: `SELECT ${C} FROM jobs INDEXED BY jobs_queue WHERE queue = @value AND seq > @after ORDER BY seq LIMIT @limit`,
    worker: `SELECT ${C} FROM jobs INDEXED BY jobs_worker WHERE worker = @value AND worker IS NOT NULL AND seq > @after ORDER BY seq LIMIT @limit`,
    array: `SELECT ${C} FROM jobs INDEXED BY jobs_array WHERE array_of = @value AND array_of IS NOT NULL AND seq > @after ORDER BY seq LIMIT @limit`,
  };
};
const BY = byKey(VIEW_COLUMNS);
const SCAN = (columns: string) => `SELECT ${columns} FROM jobs WHERE seq > @after ORDER BY seq LIMIT @limit`;

// -list's rows are written as JSON by SQLite, a page in one string: no row becomes a
// JavaScript object on the master (2 µs a row, against 11.5 for a view read and encoded).
// The order of json_array's values is ListRow's (protocol/listRow.ts).
const ROW_COLUMNS = 'seq, handle, worker, worker_host, status, exit_code, exit_reason, real_time, max_mem, max_disk, spec';
const ROWS_JSON =
  "json_group_array(json_array(handle, worker, worker_host, status, exit_code, exit_reason, real_time, max_mem, max_disk, spec ->> '$.outPath', spec ->> '$.command') ORDER BY seq)";
const asRows = (inner: string) => `SELECT ${ROWS_JSON} AS json, count(*) AS rows, max(seq) AS last FROM (${inner})`;

/** The same query, newest first: `after` is then the seq the page goes on below. */
const newestFirst = (sql: string) =>
  sql
    .replace(/(\S*seq) > @after ORDER BY (\S*seq) LIMIT/g, '$1 < @after ORDER BY $2 DESC LIMIT')
    .replace('ORDER BY seq) AS json', 'ORDER BY seq DESC) AS json')
    .replace('max(seq) AS last', 'min(seq) AS last');

/** Where a newest-first listing starts: below every seq. */
export const NEWEST = Number.MAX_SAFE_INTEGER;

export class JobPages {
  private readonly by;
  private readonly scan;
  private readonly byNewest;
  private readonly scanNewest;
  /** Rows read from the table by pages (tests count them: a listing costs what it returns). */
  rowsRead = 0;

  private readonly rowsBy;
  private readonly rowsScan;
  private readonly newestBy;
  private readonly newestScan;

  constructor(db: Db) {
    const prepare = (queries: Record<IndexedKey, string>) =>
      Object.fromEntries(Object.entries(queries).map(([k, sql]) => [k, db.prepare(sql)])) as Record<IndexedKey, ReturnType<Db['prepare']>>;
    this.by = prepare(BY);
    this.scan = db.prepare(SCAN(VIEW_COLUMNS));
    this.byNewest = prepare(Object.fromEntries(Object.entries(BY).map(([k, sql]) => [k, newestFirst(sql)])) as Record<IndexedKey, string>);
    this.scanNewest = db.prepare(newestFirst(SCAN(VIEW_COLUMNS)));
    const rowQueries = (wrap: (sql: string) => string) =>
      Object.fromEntries(Object.entries(byKey(ROW_COLUMNS)).map(([k, sql]) => [k, wrap(asRows(sql))])) as Record<IndexedKey, string>;
    this.rowsBy = prepare(rowQueries((sql) => sql));
    this.rowsScan = db.prepare(asRows(SCAN(ROW_COLUMNS)));
    this.newestBy = prepare(rowQueries(newestFirst));
    this.newestScan = db.prepare(newestFirst(asRows(SCAN(ROW_COLUMNS))));
  }

  /**
   * Up to `limit` of -list's rows after `after`: every job (`all`), or what one term names
   * (handles: all of them in one term's query). `newest`: newest first, below `after`. The SPECs must be exact (jobs/filter.ts
   * exactTerms): nothing is checked on these rows.
   */
  rowPage(terms: 'all' | readonly IndexTerm[], after: number, limit: number, newest = false): RowPage {
    let r: { json: string; rows: number; last: number | null };
    if (terms === 'all') r = (newest ? this.newestScan : this.rowsScan).get({ after, limit }) as typeof r;
    else {
      const [first] = terms;
      if (!first) return { json: '[]', rows: 0, next: null };
      const value = first.key === 'handle' ? JSON.stringify(terms.map((t) => t.value)) : first.value;
      r = (newest ? this.newestBy : this.rowsBy)[first.key].get({ value, after, limit }) as typeof r;
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
    const [by, scan] = newest ? [this.byNewest, this.scanNewest] : [this.by, this.scan];
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
