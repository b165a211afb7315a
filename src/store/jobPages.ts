// Reading the job table a page at a time, in table order (seq), for listings that may be a
// million rows long: each page is one short query that goes on after the last row the
// previous page gave, so nothing holds a read transaction or the whole answer in memory.
// SPECs the store can answer (status, handle, tag, queue, worker) read only the rows they
// name, through an index; any other reads every row, a page at a time.
import type { Db } from './db.js';
import type { IndexTerm, IndexedKey } from '../jobs/filter.js';
import type { JobView } from '../protocol/jobState.js';
import { toView, VIEW_COLUMNS, type JobRow } from './jobRow.js';

export interface Page {
  jobs: JobView[];
  /** Where the next page goes on from; null when this was the last. */
  next: number | null;
}

// One query per value, each walking its index in table order (`key = ? AND seq > ?` needs no
// sort), except handles: each names at most one row, so all of them go in one `IN` query.
const C = VIEW_COLUMNS;
const J = VIEW_COLUMNS.split(', ').map((c) => `jobs.${c}`).join(', ');
const BY: Record<IndexedKey, string> = {
  status: `SELECT ${C} FROM jobs INDEXED BY jobs_status WHERE status = @value AND seq > @after ORDER BY seq LIMIT @limit`,
  handle: `SELECT ${C} FROM jobs WHERE handle IN (SELECT value FROM json_each(@value)) AND seq > @after ORDER BY seq LIMIT @limit`,
  tag: `SELECT ${J} FROM job_tags JOIN jobs USING (seq) WHERE job_tags.tag = @value AND job_tags.seq > @after ORDER BY job_tags.seq LIMIT @limit`,
  queue: `SELECT ${C} FROM jobs INDEXED BY jobs_queue WHERE queue = @value AND seq > @after ORDER BY seq LIMIT @limit`,
  worker: `SELECT ${C} FROM jobs INDEXED BY jobs_worker WHERE worker = @value AND worker IS NOT NULL AND seq > @after ORDER BY seq LIMIT @limit`,
};

export class JobPages {
  private readonly by;
  private readonly scan;
  /** Rows read from the table by pages (tests count them: a listing costs what it returns). */
  rowsRead = 0;

  constructor(db: Db) {
    this.by = Object.fromEntries(Object.entries(BY).map(([k, sql]) => [k, db.prepare(sql)])) as Record<IndexedKey, ReturnType<Db['prepare']>>;
    this.scan = db.prepare(`SELECT ${C} FROM jobs WHERE seq > @after ORDER BY seq LIMIT @limit`);
  }

  /**
   * Up to `limit` rows after `after` (a seq; 0 = from the start), read through the index of
   * each term (null: every row), that `keep` accepts.
   */
  page(terms: readonly IndexTerm[] | null, after: number, limit: number, keep: (job: JobView) => boolean): Page {
    let rows: JobRow[];
    if (terms === null) rows = this.scan.all({ after, limit }) as JobRow[];
    else {
      // Each query's next rows, merged in table order: the union's next `limit` are among them.
      const handles = terms.filter((t) => t.key === 'handle').map((t) => t.value);
      const queries = terms.filter((t) => t.key !== 'handle').map((t) => ({ key: t.key, value: t.value }));
      if (handles.length) queries.push({ key: 'handle', value: JSON.stringify(handles) });
      const merged = new Map<number, JobRow>();
      for (const q of queries) for (const r of this.by[q.key].all({ value: q.value, after, limit }) as JobRow[]) merged.set(r.seq, r);
      rows = [...merged.values()].sort((a, b) => a.seq - b.seq).slice(0, limit);
    }
    this.rowsRead += rows.length;
    const jobs = rows.map(toView).filter(keep);
    return { jobs, next: rows.length < limit ? null : rows[rows.length - 1]!.seq };
  }
}
