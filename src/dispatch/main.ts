// bin/dispatch-q: the adapter CodaLab's work manager calls (`start|info|kill|cleanup`),
// talking to the q master directly. Every call prints one JSON object on stdout; a failure is
// a JSON object with an `error` line and a non-zero exit, never a trace.
//
//   dispatch-q [--master-host H] [--master-port P] [--state DIR] [--token T] [--wait S] MODE ...
//
// The master is found as q's client finds it: Q_MASTER_HOST / Q_MASTER_PORT, the token from
// --token, Q_TOKEN or the state directory (--state, Q_STATE, ~/.q). A master that cannot be
// reached is tried again for up to --wait seconds (default 30): one being restarted answers
// within that, and CodaLab's work manager of 2015 dies on a failed `info` while a bundle runs.
import { parseArgs } from 'node:util';
import { Connection, listPages } from '../client/connection.js';
import type { JobView } from '../protocol/jobState.js';
import { jobRow, renderTable } from '../client/render.js';
import { LIST_COLUMNS } from '../jobs/listCells.js';
import { DEFAULT_PORT, findToken, stateDir } from '../common/config.js';
import { ErrorCodes, isQError } from '../common/errors.js';
import { infoOf } from './info.js';
import { DispatchError, startSpec } from './start.js';

type Out = Record<string, unknown>;

/** Seconds to keep trying a master that cannot be reached, unless --wait says otherwise. */
const DEFAULT_WAIT_S = 30;
/** Pause between tries. */
const RETRY_MS = 500;

/**
 * Opens a connection, trying again while the master cannot be reached (not for a refused
 * token): nothing was sent, so trying again cannot do anything twice.
 */
async function openWaiting(open: () => Promise<Connection>, waitS: number): Promise<Connection> {
  const deadline = Date.now() + waitS * 1000;
  for (;;) {
    try {
      return await open();
    } catch (e) {
      if (!isQError(e) || (e.code !== ErrorCodes.NO_MASTER && e.code !== ErrorCodes.BUSY) || Date.now() + RETRY_MS > deadline) throw e;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}

// Node's own parser, not yargs: CodaLab's work manager calls this about once a second, and
// loading yargs was a tenth of each call.
const STRING_OPTIONS = [
  'master-host', 'master-port', 'state', 'token', 'wait', 'username', 'request-time', 'request-memory',
  'request-disk', 'request-cpus', 'request-gpus', 'request-queue', 'request-priority',
] as const;

interface Args {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parse(argv: string[]): Args {
  // A value option takes the next word whatever it is (`--request-priority -3`), as yargs did;
  // parseArgs would take a word starting with a dash for an option.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    const takesValue = word.startsWith('--') && (STRING_OPTIONS as readonly string[]).includes(word.slice(2));
    if (takesValue && i + 1 < argv.length) args.push(`${word}=${argv[++i]!}`);
    else args.push(word);
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...Object.fromEntries(STRING_OPTIONS.map((name) => [name, { type: 'string' as const }])),
        'share-working-path': { type: 'boolean', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (e) {
    // (Node's message goes on to explain `--`: the first sentence is the mistake.)
    throw new DispatchError((e as Error).message.split(/\.\s/)[0] ?? 'bad arguments');
  }
}

function num(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new DispatchError(`${what} needs a number, not '${v}'`);
  return n;
}

async function run(argv: string[]): Promise<Out> {
  const { values: a, positionals } = parse(argv);
  const [mode, ...rest] = positionals;
  const str = (k: string) => {
    const v = a[k] as string | number | boolean | undefined;
    return v === undefined ? undefined : String(v);
  };
  const port = num(str('master-port') ?? process.env.Q_MASTER_PORT, '--master-port') ?? DEFAULT_PORT;
  const host = str('master-host') ?? process.env.Q_MASTER_HOST ?? '127.0.0.1';
  const waitS = num(str('wait'), '--wait') ?? DEFAULT_WAIT_S;
  if (waitS < 0) throw new DispatchError(`--wait needs a number of seconds, 0 or more, not '${str('wait')}'`);
  const target = () => ({ host: host === 'localhost' ? '127.0.0.1' : host, port, token: findToken(str('token'), stateDir(str('state'))), timeoutMs: 10_000 });
  const connect = () => openWaiting(() => Connection.open(target()), waitS);
  const one = () => {
    if (rest.length !== 1) throw new DispatchError(`${mode} takes one job handle`);
    return rest[0]!;
  };
  switch (mode) {
    case 'start': {
      if (rest.length !== 1) throw new DispatchError('start takes one SCRIPT');
      const spec = startSpec(
        {
          script: rest[0]!,
          username: str('username'),
          time: num(str('request-time'), '--request-time'),
          memory: num(str('request-memory'), '--request-memory'),
          disk: num(str('request-disk'), '--request-disk'),
          cpus: num(str('request-cpus'), '--request-cpus'),
          gpus: num(str('request-gpus'), '--request-gpus'),
          queue: str('request-queue'),
          priority: num(str('request-priority'), '--request-priority'),
          shareWorkingPath: a['share-working-path'] === true,
        },
        process.cwd(),
      );
      const conn = await connect();
      try {
        const { handles } = await conn.request({ type: 'add', jobs: [spec] }, 'added');
        return { handle: handles[0], raw: `Job ${handles[0]} added successfully\n` };
      } finally {
        conn.close();
      }
    }
    case 'info': {
      const conn = await connect();
      try {
        const jobs: JobView[] = [];
        await listPages(conn, rest, (page) => void jobs.push(...page));
        const raw = jobs.length ? renderTable(LIST_COLUMNS, jobs.map((j) => jobRow(j, true)), { tabs: true, headers: false }) + '\n' : '';
        return { raw, infos: jobs.map(infoOf) };
      } finally {
        conn.close();
      }
    }
    case 'kill':
    case 'cleanup': {
      const handle = one();
      const conn = await connect();
      try {
        const specs = [`handle:${handle}`];
        // CodaLab may kill a run that has not started: it must end, not run later.
        const res = await conn.request(mode === 'kill' ? { type: 'kill', specs, queued: true } : { type: 'delete', specs }, 'affected');
        const k = res.handles.length;
        const raw = mode === 'kill' ? `Requested workers to kill ${k}/${res.matched} jobs\n` : `Deleted ${k}/${res.matched} jobs\n`;
        return { handle, raw };
      } finally {
        conn.close();
      }
    }
    case undefined:
      throw new DispatchError('usage: dispatch-q start|info|kill|cleanup ...');
    default:
      throw new DispatchError(`invalid mode: ${mode} (start, info, kill or cleanup)`);
  }
}

/** `--help`: for a person at a terminal, so plain text, not JSON. */
const USAGE = `usage: dispatch-q [--master-host H] [--master-port P] [--state DIR] [--token T] [--wait S] MODE ...
  start [--request-time S] [--request-memory B] [--request-disk B] [--request-cpus N] [--request-gpus N]
        [--request-queue Q] [--request-priority P] [--username U] [--share-working-path] SCRIPT
  info [HANDLE...]        the jobs' state (no handle: every job)
  kill HANDLE             kill a job
  cleanup HANDLE          delete a job
Every call prints one JSON object; the master is found as q's client finds it (docs/codalab.md),
and one that cannot be reached is tried again for --wait S seconds (default 30; 0: fail at once).`;

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) process.stdout.write(USAGE + '\n');
else run(argv).then(
  (out) => process.stdout.write(JSON.stringify(out) + '\n'),
  (e: unknown) => {
    const known = e instanceof DispatchError || isQError(e);
    const message = known ? (e).message : `internal error: ${(e as Error)?.message ?? String(e)}`;
    const out: Out = { error: message };
    if (argv.includes('start')) out.handle = null;
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exitCode = known ? 1 : 70;
  },
);
