// A listing sent while it is read: a page of rows a turn of the event loop, each page sent
// before the next is read, and none read while the client has not taken the last ones. So
// the master's memory holds about one page whatever the answer's size, a client that stops
// reading costs it nothing, and an add or a heartbeat that arrives meanwhile is answered
// between two pages.
import { compileSpecs, exactTerms, indexTerms } from '../jobs/filter.js';
import type { JobView } from '../protocol/jobState.js';
import { listRowOf, type ListRow } from '../protocol/listRow.js';
import { NEWEST } from '../store/jobPages.js';
import type { Hub } from './hub.js';

/** How much the client has not read yet (Infinity once it is gone): a listing waits on it. */
export interface Backlog {
  buffered: () => number;
}

/** Rows per page: a few milliseconds of reading and encoding. */
export const PAGE_ROWS = 500;
/** -list's rows per page, written by the store as JSON: about 2 ms of the master's time. */
export const ROW_PAGE_ROWS = 1000;
/**
 * The first page of a listing is short: a client checks and prints a page before its first
 * row shows, and a full first page of -list's rows was ~25 ms of a client call's ~200 ms
 * before anything showed. The pages after it are full size.
 */
export const FIRST_PAGE_ROWS = 100;
/** Rows per turn for -kill, -delete, -rerun: each row costs more (a delete removes its log files). */
export const ACTION_ROWS = 100;
/** Bytes the client may have waiting before the next page is read. */
const CLIENT_BACKLOG_BYTES = 1024 * 1024;
const WAIT_MS = 10;

export interface ListingSink {
  page: (jobs: JobView[], last: boolean) => void;
  failed: (e: Error) => void;
}

/** What readPages sends to: a page may return a promise (a delete's logs being removed), and the next is read once it resolves. */
interface PageSink {
  page: (jobs: JobView[], last: boolean) => Promise<void> | void;
  failed: (e: Error) => void;
}

/** What `specs` match (none: every job), page by page into `sink`. */
export function streamListing(hub: Hub, specs: readonly string[], sink: ListingSink, scope: Backlog): void {
  readPages(hub, specs, specs.length === 0, sink, scope, PAGE_ROWS, FIRST_PAGE_ROWS);
}

export interface RowSink {
  /** A page as JSON the store wrote (an array of ListRows). */
  json: (rowsJson: string, last: boolean) => void;
  rows: (rows: ListRow[], last: boolean) => void;
  failed: (e: Error) => void;
}

/**
 * -list's rows for what `specs` match (none: every job), page by page into `sink`. SPECs the
 * store answers exactly come as its JSON; any other is read as views, checked, and cut down.
 */
export function streamRows(hub: Hub, specs: readonly string[], sink: RowSink, scope: Backlog): void {
  const terms = exactTerms(specs);
  if (terms === null) {
    const page = (jobs: JobView[], last: boolean) => sink.rows(jobs.map(listRowOf), last);
    return readPages(hub, specs, false, { page, failed: sink.failed }, scope, PAGE_ROWS, FIRST_PAGE_ROWS);
  }
  paced(scope, (after, first) => {
    const page = hub.jobs.pages.rowPage(terms, after, first ? FIRST_PAGE_ROWS : ROW_PAGE_ROWS);
    sink.json(page.json, page.next === null);
    return page.next;
  }, sink.failed);
}

/**
 * Reads a page a turn: `step(after, first)` reads and sends the page after that seq (0 and
 * first: from the start) and returns where the next goes on from, null after the last, or a
 * promise of it (the next page waits for what the last one started). Waits while the client
 * has more than CLIENT_BACKLOG_BYTES to read; stops when it goes or `step` throws or rejects
 * (`failed`).
 */
function paced(scope: Backlog, step: (after: number, first: boolean) => number | null | Promise<number | null>, failed: (e: Error) => void): void {
  const turn = (after: number, first = false) => {
    const waiting = scope.buffered();
    if (waiting === Infinity) return; // the client went
    if (waiting > CLIENT_BACKLOG_BYTES) {
      setTimeout(turn, WAIT_MS, after, first);
      return;
    }
    let next: number | null | Promise<number | null>;
    try {
      next = step(after, first);
    } catch (e) {
      failed(e as Error);
      return;
    }
    const go = (n: number | null) => n !== null && void setImmediate(turn, n);
    if (next instanceof Promise) next.then(go, failed);
    else go(next);
  };
  turn(0, true);
}

/**
 * `-kill`, `-delete`, `-rerun`: `act` on each page of what `specs` match (none: nothing), a
 * page a turn, so that `-delete all` of a million jobs never holds the master for long. When
 * `act` returns a promise (a delete's logs being removed), the next page, or `end`, waits for it.
 */
export function actOnPages(hub: Hub, specs: readonly string[], act: (jobs: JobView[]) => Promise<void> | void, end: () => void, failed: (e: Error) => void): void {
  if (specs.length === 0) return end();
  const page = (jobs: JobView[], last: boolean) => {
    const acted = act(jobs);
    if (!last) return acted;
    return acted ? acted.then(end) : end();
  };
  readPages(hub, specs, false, { page, failed }, { buffered: () => 0 }, ACTION_ROWS);
}

/** Pages of `rows` (the first of `firstRows`) of what `specs` match, into `sink`. */
function readPages(hub: Hub, specs: readonly string[], all: boolean, sink: PageSink, scope: Backlog, rows: number, firstRows = rows): void {
  const terms = all ? null : indexTerms(specs);
  const keep = all ? () => true : compileSpecs(specs);
  paced(scope, (after, first) => {
    const page = hub.jobs.pages.page(terms, after, first ? firstRows : rows, keep);
    const sent = sink.page(page.jobs, page.next === null);
    return sent ? sent.then(() => page.next) : page.next;
  }, sink.failed);
}

/** Rows a dashboard page may read to fill itself when its filter is not answered by an index. */
const PAGE_READ_ROWS = 5000;

/**
 * One page of -list's rows (the dashboard's table): `limit` rows from the cursor `from` (null:
 * the first page), oldest or newest first, and the cursor of the next page. A filter the
 * store answers reads only those rows; any other reads at most PAGE_READ_ROWS, so a page
 * whose filter matches little may come short, with a cursor to go on.
 */
export function onePage(hub: Hub, specs: readonly string[], from: number | null, limit: number, newest: boolean): { rows: ListRow[]; next: number | null } {
  const start = from ?? (newest ? NEWEST : 0);
  const terms = exactTerms(specs);
  if (terms !== null) {
    const page = hub.jobs.pages.rowPage(terms, start, limit, newest);
    return { rows: JSON.parse(page.json) as ListRow[], next: page.next };
  }
  const index = indexTerms(specs);
  const keep = compileSpecs(specs);
  const rows: ListRow[] = [];
  let after: number | null = start;
  for (let read = 0; after !== null && rows.length < limit && read < PAGE_READ_ROWS; read += limit) {
    const page = hub.jobs.pages.page(index, after, limit - rows.length, keep, newest);
    rows.push(...page.jobs.map(listRowOf));
    after = page.next;
  }
  return { rows, next: after };
}

/** How many jobs `specs` match (none: every job), counted a page a turn; `done` gets the count. */
export function countMatching(hub: Hub, specs: readonly string[], done: (n: number) => void, failed: (e: Error) => void): void {
  const terms = exactTerms(specs);
  if (terms === 'all') return done(hub.jobs.count());
  const only = terms?.length === 1 ? terms[0]! : null;
  if (only?.key === 'status') return done(hub.jobs.counts().reduce((n, c) => n + (c.status === only.value ? c.n : 0), 0));
  let n = 0;
  readPages(hub, specs, false, { page: (jobs, last) => void ((n += jobs.length), last && done(n)), failed }, { buffered: () => 0 }, ROW_PAGE_ROWS);
}
