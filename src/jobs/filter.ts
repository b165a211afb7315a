// SPEC filters of -list/-info/-kill/-delete/-rerun.
//   `all` matches every job. `KEY:VALUE` with KEY in status, handle, tag, cmd (an argument
//   equal to VALUE), outPath (ends with /VALUE); a bare VALUE is tried against each.
//   Commas inside one argument AND terms; separate arguments OR them.
import type { JobView } from '../protocol/jobState.js';

type Term = { key: string | null; value: string };

const BARE_KEYS = ['status', 'handle', 'outPath', 'tag', 'cmd'];

/** `KEY:VALUE` for a known key; anything else (`host:8080`) is a bare value. */
function parseTerm(text: string): Term {
  const m = /^(\w+):(.+)$/.exec(text);
  return m && BARE_KEYS.includes(m[1]!) ? { key: m[1]!, value: m[2]! } : { key: null, value: text };
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
      return job.outPath !== null && job.outPath.endsWith('/' + value.replace(/^\/+/, ''));
    default:
      return false;
  }
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
  const clauses = specs.map((s) => s.split(',').filter(Boolean).map(parseTerm)).filter((c) => c.length > 0);
  return (job) => clauses.some((clause) => clause.every((term) => termMatches(job, term)));
}
