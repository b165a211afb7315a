// SPEC filters of -list/-info/-kill/-delete/-rerun.
//   `all` matches every job. `KEY:VALUE` with KEY in status, handle, tag, cmd (an argument
//   equal to VALUE), outPath (ends with /VALUE, a regular expression as in fig); a bare VALUE
//   is tried against each. Also
//   queue:NAME, worker:HANDLE and array:HANDLE (never tried for a bare value).
//   Commas inside one argument AND terms; separate arguments OR them.
import type { JobView } from '../protocol/jobState.js';
import { HANDLE_PATTERN } from '../protocol/fields.js';
import { JobStatuses } from '../protocol/statuses.js';

type Term = { key: string | null; value: string };

const BARE_KEYS = ['status', 'handle', 'outPath', 'tag', 'cmd'];
/** Keys only ever given as `KEY:VALUE` (a bare value is not tried against them). */
const KEYS = [...BARE_KEYS, 'queue', 'worker', 'array'];
/** Keys the store answers from an index (store/jobPages.ts). */
export const INDEXED_KEYS = ['status', 'handle', 'tag', 'queue', 'worker', 'array'] as const;
export type IndexedKey = (typeof INDEXED_KEYS)[number];
export interface IndexTerm {
  key: IndexedKey;
  value: string;
}

/** `KEY:VALUE` for a known key; anything else (`host:8080`) is a bare value. */
function parseTerm(text: string): Term {
  const m = /^(\w+):(.+)$/.exec(text);
  if (m && KEYS.includes(m[1]!)) return { key: m[1]!, value: m[2]! };
  // A bare handle is one: it is answered by the index like `handle:` is.
  if (HANDLE_PATTERN.test(text)) return { key: 'handle', value: text };
  return { key: null, value: text };
}

function clausesOf(specs: readonly string[]): Term[][] {
  return specs.map((s) => s.split(',').filter(Boolean).map(parseTerm)).filter((c) => c.length > 0);
}

/**
 * How the store can find what these SPECs match without reading every row: one indexed term
 * per clause (a clause's other terms are checked on the rows it finds). Null when some clause
 * has none (`all`, a bare value, `cmd:`, `outPath:`): then every row is read, page by page.
 */
export function indexTerms(specs: readonly string[]): IndexTerm[] | null {
  const clauses = clausesOf(specs);
  const terms: IndexTerm[] = [];
  for (const clause of clauses) {
    // The most selective first: a handle is one row; a status may be most of the table.
    const order: IndexedKey[] = ['handle', 'array', 'worker', 'tag', 'queue', 'status'];
    const best = order.map((k) => clause.find((t) => t.key === k)).find((t) => t !== undefined);
    if (!best) return null;
    terms.push({ key: best.key as IndexedKey, value: best.value });
  }
  return terms;
}

/**
 * The SPECs when the store can answer them in one query with nothing left to check on its
 * rows: every job (no SPECs, or `all`), any number of handles, or one status, tag, queue,
 * worker or array term. Null otherwise (the rows are then checked one by one).
 */
export function exactTerms(specs: readonly string[]): 'all' | IndexTerm[] | null {
  if (specs.length === 0) return 'all';
  const clauses = clausesOf(specs);
  if (clauses.length === 0) return null; // `-list ,`: matches nothing, the slow path says so
  if (clauses.some((c) => c.length === 1 && c[0]!.key === null && c[0]!.value === 'all')) return 'all';
  if (clauses.some((c) => c.length !== 1)) return null;
  const terms = clauses.map((c) => c[0]!);
  if (terms.every((t) => t.key === 'handle')) return terms as IndexTerm[];
  const [only] = terms;
  return terms.length === 1 && only!.key !== null && (INDEXED_KEYS as readonly string[]).includes(only!.key) ? [only as IndexTerm] : null;
}

/** The command's arguments as the submitter wrote them (split on whitespace). */
function commandArgs(job: JobView): string[] {
  return job.command.split(/\s+/).filter(Boolean);
}

function test(job: JobView, key: string, value: string): boolean {
  switch (key) {
    case 'status':
      return job.status === value;
    case 'handle':
      return job.handle === value;
    case 'tag':
      return job.tags.includes(value);
    case 'cmd':
      return commandArgs(job).includes(value);
    case 'outPath':
      return job.outPath !== null && outPathPattern(value).test(job.outPath);
    case 'queue':
      return job.queue === value;
    case 'worker':
      return job.worker === value;
    case 'array':
      return job.array === value;
    default:
      return false;
  }
}


const outPathPatterns = new Map<string, RegExp>();

/**
 * `outPath:V` matches an outPath that ends with `/V`, V a regular expression as in fig's q
 * (`outPath:o.t1` matches `.../out1`). A group with a quantifier after it (`(a+)+`) could take
 * the master exponential time on one row, so such a V is matched as plain text.
 */
function outPathPattern(value: string): RegExp {
  let re = outPathPatterns.get(value);
  if (re) return re;
  const v = value.replace(/^\/+/, '');
  const literal = () => new RegExp(`/${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  try {
    re = /\)[*+?{]/.test(v) || v.length > 256 ? literal() : new RegExp(`/${v}$`);
  } catch {
    re = literal(); // not a valid expression: its text
  }
  if (outPathPatterns.size > 1000) outPathPatterns.clear();
  outPathPatterns.set(value, re);
  return re;
}

function termMatches(job: JobView, term: Term): boolean {
  if (term.key === null) {
    if (term.value === 'all') return true;
    return BARE_KEYS.some((k) => test(job, k, term.value));
  }
  return test(job, term.key, term.value);
}

/** A predicate for a list of SPEC arguments. An empty list matches nothing. */
export function compileSpecs(specs: readonly string[]): (job: JobView) => boolean {
  // A clause that is one handle is a set lookup: -delete of 1,000 handles checked each row
  // against all 1,000 (60 ms a page).
  const handles = new Set<string>();
  const clauses: Term[][] = [];
  for (const clause of clausesOf(specs)) {
    if (clause.length === 1 && clause[0]!.key === 'handle') handles.add(clause[0]!.value);
    else clauses.push(clause);
  }
  return (job) => handles.has(job.handle) || clauses.some((clause) => clause.every((term) => termMatches(job, term)));
}

/** What is wrong with these SPECs, or null: a `status:` that no job can have. */
export function specMistake(specs: readonly string[]): string | null {
  for (const term of clausesOf(specs).flat()) {
    if (term.key === 'status' && !(JobStatuses as readonly string[]).includes(term.value)) {
      return `status:${term.value} is no status (${JobStatuses.join(', ')})`;
    }
  }
  return null;
}
