// The client mode: does what the options ask, in a fixed order (add, direct, saveState, list,
// info, log, delete, kill, rerun, hold, release, wait, w, resetWorkers, clearWorkers, shutdownMaster),
// whatever their order on the line.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Parsed } from '../cli/parse.js';
import { SPEC_OPTIONS } from '../cli/options.js';
import { ErrorCodes, QError } from '../common/errors.js';
import type { JobSpec } from '../protocol/jobSpec.js';
import type { JobView } from '../protocol/jobState.js';
import { Connection, listPages, listRows, type Target } from './connection.js';
import { describe, waitForJobs } from './wait.js';
import type { ListRow } from '../protocol/listRow.js';
import { MAX_PAGE_ROWS } from '../protocol/clientMessages.js';
import { buildJobs, type JobOptions } from './jobspec.js';
import { MAX_COMMAND_BYTES, MAX_JOBS_PER_ADD } from '../common/limits.js';
import { sendAdd } from './adding.js';
import { JsonArrayStream, TableStream, WORKER_COLUMNS, renderInfo, renderTable, workerRow } from './render.js';
import { LIST_COLUMNS, listCells } from '../jobs/listCells.js';
import { specMistake } from '../jobs/filter.js';
import { signalExitCode } from '../common/outcomes.js';
import { Verbosity } from '../common/verbosity.js';
import { runPilots } from './pilots.js';


export interface ClientIo {
  out(text: string): void;
  err(text: string): void;
  stdin(): string;
  cwd: string;
  /** The terminal's width when output goes to one (tables are fitted to it); else undefined. */
  columns?: number;
}

export const processIo: ClientIo = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
  stdin: () => readFileSync(0, 'utf8'),
  cwd: process.cwd(),
  columns: process.stdout.isTTY ? process.stdout.columns : undefined,
};


function jobOptions(p: Parsed): JobOptions {
  return {
    priority: p.int('priority'),
    time: p.str('time'),
    mem: p.str('mem'),
    memGrace: p.num('memGrace'),
    disk: p.str('disk'),
    tags: p.list('tags'),
    workerHandle: p.str('workerHandle'),
    inPaths: p.list('inPaths'),
    realtimeInPaths: p.list('realtimeInPaths'),
    outPath: p.given.has('outPath') ? p.str('outPath') : undefined,
    outFiles: p.list('outFiles'),
    shareWorkingPath: p.given.has('shareWorkingPath') ? p.bool('shareWorkingPath') : undefined,
    specPath: p.str('specPath'),
    doneHook: p.str('doneHook'),
    failedHook: p.str('failedHook'),
    docker: p.str('docker'),
    cpus: p.num('cpus'),
    gpus: p.int('gpus'),
    network: p.given.has('network') ? p.bool('network') : undefined,
    queue: p.str('queue'),
    cidFile: p.str('cidFile'),
    retries: p.int('retries'),
    retry: p.int('retry'),
    retryDelay: p.str('retryDelay'),
    logLimit: p.str('logLimit'),
    pretend: p.bool('pretend'),
  };
}

function commandsToAdd(p: Parsed, io: ClientIo): string[] {
  const words = p.list('add') ?? [];
  if (words.length === 1 && words[0] === '-') {
    return io
      .stdin()
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  }
  if (words.length === 0) throw new QError(ErrorCodes.BAD_VALUE, '-add needs a command (or - to read commands from stdin)');
  return [words.join(' ')];
}

function pretendView(spec: JobSpec): JobView {
  return {
    ...spec,
    handle: 'J-xxxxxx',
    status: 'ready',
    createdAt: Date.now(),
    worker: null,
    workerHostname: null,
    attempt: 0,
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    exitReason: null,
    realTime: -1,
    userTime: -1,
    maxMem: -1,
    curMem: -1,
    maxDisk: -1,
    logDropped: 0,
    retried: 0,
    retryCodes: [],
    retryAt: null,
  };
}

/**
 * One word is a shell command (`q -direct 'make && make test'`); several are a program and its
 * arguments, run as given (`q -direct printf '[%s]' 'a b'`), as `env` or `nohup` would.
 * Exits with the command's code, or 128 + the signal that ended it.
 */
async function runDirect(words: string[], cwd: string): Promise<number> {
  if (words.length === 0) throw new QError(ErrorCodes.BAD_VALUE, '-direct needs a command');
  const [file, args] = words.length === 1 ? ['/bin/sh', ['-c', words[0]!]] : [words[0]!, words.slice(1)];
  const child = spawn(file, args, { cwd, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(new QError(ErrorCodes.BAD_VALUE, `-direct: cannot run ${file}: ${e.code === 'ENOENT' ? 'no such command' : e.message}`)),
    );
    child.on('exit', (code, signal) => resolve(code ?? (signal ? signalExitCode(signal) : 1)));
  });
}

/** Refuses, in one line naming the limit, an add the master could not take (common/limits.ts). */
function checkAddLimits(commands: readonly string[], numTimes: number): void {
  const n = commands.length * numTimes;
  if (!Number.isSafeInteger(numTimes) || n > MAX_JOBS_PER_ADD) {
    throw new QError(ErrorCodes.BAD_VALUE, `one add makes at most ${MAX_JOBS_PER_ADD} jobs, not ${numTimes === 1 ? commands.length : `${commands.length} × ${numTimes}`}: split it`);
  }
  for (const c of commands) {
    if (c.trim() === '') throw new QError(ErrorCodes.BAD_VALUE, 'a command is empty');
    const bytes = Buffer.byteLength(c);
    if (bytes > MAX_COMMAND_BYTES) {
      throw new QError(ErrorCodes.BAD_VALUE, `a command of ${bytes} bytes is longer than ${MAX_COMMAND_BYTES}: put it in a script`);
    }
  }
}

/** The handles each SPEC names now; a SPEC that names none is the user's mistake. */
async function resolveSpecs(conn: Connection, specs: readonly string[], option: string): Promise<string[]> {
  const handles = new Set<string>();
  for (const spec of specs) {
    let found = 0;
    await listRows(conn, [spec], (rows) => {
      found += rows.length;
      for (const r of rows) handles.add(r[0]);
    });
    if (found === 0) throw new QError(ErrorCodes.BAD_VALUE, `-${option} ${spec} matches no job`);
  }
  return [...handles];
}

/** Runs the client; returns the exit code. */
export async function runClient(p: Parsed, target: () => Target, io: ClientIo = processIo): Promise<number> {
  const pilots = runPilots(p, target, io);
  if (pilots !== null) return pilots;
  const json = p.bool('json');
  const table = { tabs: p.bool('tabs'), headers: p.bool('headers') };
  let exitCode = 0;
  for (const name of SPEC_OPTIONS) {
    const mistake = specMistake(p.list(name) ?? []);
    if (mistake) throw new QError(ErrorCodes.BAD_VALUE, `-${name}: ${mistake}`);
  }
  if (p.given.has('last') && !p.given.has('list')) throw new QError(ErrorCodes.BAD_VALUE, '-last goes with -list: q -list -last 20');
  // An empty list here is a slip (`-tags -add x`), not a choice: it would silently mean none.
  for (const name of ['tags', 'inPaths', 'realtimeInPaths', 'outFiles', 'after', 'afterAny'] as const) {
    if (p.given.has(name) && (p.list(name) ?? []).length === 0) throw new QError(ErrorCodes.BAD_VALUE, `-${name} needs at least one value`);
  }

  // Work that needs no master first, so `-pretend` and `-direct` never need one.
  let toAdd: JobSpec[] = [];
  if (p.given.has('add')) {
    const numTimes = p.int('numTimes') ?? 1;
    if (numTimes < 1) throw new QError(ErrorCodes.BAD_VALUE, `-numTimes must be at least 1, not ${numTimes}`);
    const commands = commandsToAdd(p, io);
    checkAddLimits(commands, numTimes);
    const built = buildJobs(commands, numTimes, jobOptions(p), io.cwd);
    // Said, not silent: a job may have left a job.spec where its submitter works.
    if (built.defaultSpec && p.verbosity >= Verbosity.NORMAL) io.err(`q: job fields from ${built.defaultSpec} (found by default; -specPath FILE names another)`);
    if (!p.bool('quiet')) for (const path of built.poolPaths) io.out(path);
    if (p.bool('pretend')) {
      for (const spec of built.jobs) io.out(json ? JSON.stringify(pretendView(spec)) : renderInfo(pretendView(spec), io.cwd));
    } else {
      toAdd = built.jobs;
    }
  }
  if (p.given.has('direct')) exitCode = await runDirect(p.list('direct') ?? [], io.cwd);

  const wantsMaster =
    toAdd.length > 0 ||
    ['saveState', 'list', 'info', 'log', 'delete', 'kill', 'rerun', 'hold', 'release', 'wait', 'w', 'resetWorkers', 'clearWorkers', 'dashboard', 'shutdownMaster'].some((o) =>
      p.given.has(o),
    );
  if (!wantsMaster) {
    if (!p.given.has('add') && !p.given.has('direct') && !p.given.has('help')) {
      io.err('q: nothing to do: options alone add nothing; try q -add COMMAND, q -list, or q -help');
      return 2;
    }
    return exitCode;
  }

  const holdSpecs = p.list('hold') ?? [];
  if (p.given.has('hold') && holdSpecs.length === 0 && toAdd.length === 0) {
    throw new QError(ErrorCodes.BAD_VALUE, '-hold needs SPEC... (or -add, to add jobs held)');
  }
  const where = target();
  let conn = await Connection.open(where);
  try {
    const added: string[] = [];
    if (toAdd.length) {
      // -after's SPECs name jobs that exist now: resolved once, for every batch of this add.
      const after = await resolveSpecs(conn, p.list('after') ?? [], 'after');
      const afterAny = await resolveSpecs(conn, p.list('afterAny') ?? [], 'afterAny');
      const hold = p.given.has('hold') && holdSpecs.length === 0;
      for (const h of await sendAdd(conn, where, toAdd, { after, afterAny, hold })) added.push(h);
      // Said once the whole add is made: a line printed is a job that exists.
      for (let i = 0; i < added.length; i += 10_000) {
        io.out(added.slice(i, i + 10_000).map((h) => (p.bool('quiet') ? h : `Job ${h} added successfully`)).join('\n'));
      }
    }
    if (p.bool('saveState')) io.out((await conn.request({ type: 'saveState' }, 'ok')).message);
    if (p.given.has('list')) {
      // On a terminal, rows fit its width: exitReason is cut first, then the command. Pipes
      // and -tabs get every character (scripts and CodaLab parse them).
      const fit = io.columns && !table.tabs ? { width: io.columns, squeeze: LIST_COLUMNS.indexOf('exitReason') } : undefined;
      const rows = new TableStream(LIST_COLUMNS, { ...table, ...(fit ? { fit } : {}) }, (t) => io.out(t));
      const array = new JsonArrayStream((t) => io.out(t));
      const lastN = p.int('last');
      if (p.given.has('last') && !(lastN !== undefined && lastN > 0 && lastN <= 1e6)) throw new QError(ErrorCodes.BAD_VALUE, `-last takes a number of jobs from 1 to 1000000, not ${p.str('last')}`);
      if (lastN !== undefined) {
        if (json) throw new QError(ErrorCodes.BAD_VALUE, '-last shows the table (or -tabs); for -json, name the jobs with a SPEC');
        // Newest first, a page at a time, then turned round: the N newest, in table order.
        const newest: ListRow[] = [];
        for (let from: number | null = null; newest.length < lastN; ) {
          const page: { rows: ListRow[]; next: number | null } = await conn.request(
            { type: 'rowPage', specs: p.list('list') ?? [], from, limit: Math.min(MAX_PAGE_ROWS, lastN - newest.length), newest: true },
            'rowPage',
          );
          newest.push(...page.rows);
          if (page.next === null) break;
          from = page.next;
        }
        rows.rows(newest.reverse().map((r) => listCells(r, table.tabs)));
        rows.end();
      } else if (json) await listPages(conn, p.list('list') ?? [], (jobs, last) => array.items(jobs, last));
      else {
        await listRows(conn, p.list('list') ?? [], (part) => rows.rows(part.map((r) => listCells(r, table.tabs))));
        rows.end();
      }
    }
    if (p.given.has('info')) {
      const array = new JsonArrayStream((t) => io.out(t));
      await listPages(conn, p.list('info') ?? [], (jobs, last) => {
        if (json) array.items(jobs, last);
        else for (const j of jobs) io.out(renderInfo(j, io.cwd));
      });
    }
    if (p.given.has('log')) {
      const lines = (name: 'head' | 'tail') => {
        const n = p.int(name);
        if (n !== undefined && !(n > 0 && n <= 1e9)) throw new QError(ErrorCodes.BAD_VALUE, `-${name} takes a number of lines from 1 to 1000000000, not ${n}`);
        return n;
      };
      const range = { head: lines('head'), tail: lines('tail') };
      exitCode = Math.max(exitCode, await printLog(conn, p.str('log')!, p.bool('follow'), range, json, io));
    }
    const change = async (type: 'delete' | 'kill' | 'rerun' | 'hold' | 'release', say: (k: number, m: number) => string) => {
      if (!p.given.has(type)) return;
      const specs = p.list(type) ?? [];
      const res = await conn.request(type === 'kill' ? { type, specs, queued: false } : { type, specs }, 'affected');
      if (res.matched === 0 && !json) {
        // A mistake (a handle mistyped, or gone), not an answer: one line and a non-zero exit.
        io.err(specs.length ? `q: -${type} ${specs.join(' ')}: no job matches` : `q: -${type} needs SPEC... (a handle, tag:T, status:S, all)`);
        exitCode = Math.max(exitCode, 2);
        return;
      }
      io.out(json ? JSON.stringify({ [type]: res.handles, matched: res.matched }) : say(res.handles.length, res.matched));
    };
    await change('delete', (k, m) => `Deleted ${k}/${m} jobs`);
    await change('kill', (k, m) => `Requested workers to kill ${k}/${m} jobs`);
    await change('rerun', (k, m) => `Marked ${k}/${m} jobs to rerun`);
    if (holdSpecs.length) await change('hold', (k, m) => `Held ${k}/${m} jobs`);
    await change('release', (k, m) => `Released ${k}/${m} jobs`);
    if (p.given.has('wait')) {
      const handles = added.length ? added : await resolveSpecs(conn, (p.list('wait') ?? []).length ? p.list('wait')! : ['all'], 'wait');
      const tty = process.stderr.isTTY && !json && p.verbosity >= Verbosity.NORMAL;
      const progress = tty ? (line: string) => process.stderr.write(`\r\x1b[K${line}`) : null;
      const waited = await waitForJobs(conn, target, handles, { progress });
      conn = waited.conn;
      if (tty) process.stderr.write('\n');
      const { counts } = waited;
      const one = added.length === 1 && waited.rows.length === 1 ? waited.rows[0]! : null;
      const code = one ? (one[3] === 'done' ? 0 : one[4] || 1) : counts.failed > 0 ? 1 : 0;
      io.out(json ? JSON.stringify({ ...counts, exitCode: code }) : describe(counts, waited.elapsedS));
      exitCode = Math.max(exitCode, code);
    }
    if (p.bool('w')) {
      const { workers, now: masterNow, autoscale } = await conn.request({ type: 'workers' }, 'workerList');
      const now = masterNow ?? Date.now();
      if (json) io.out(JSON.stringify(workers, null, 2));
      else if (workers.length || table.headers) {
        const held = workers.flatMap((w) => w.jobs);
        const rows = new Map<string, ListRow>();
        if (held.length) await listRows(conn, held, (part) => part.forEach((r) => rows.set(r[0], r)));
        io.out(renderTable(WORKER_COLUMNS, workers.map((w) => workerRow(w, now, rows)), table));
      }
      // Not in -tabs: `cut` on its columns must see rows only.
      if (autoscale !== undefined && !json && !table.tabs) io.err(`autoscale: ${autoscale}`);
    }
    if (p.given.has('resetWorkers')) io.out((await conn.request({ type: 'resetWorkers', handles: p.list('resetWorkers') ?? [] }, 'ok')).message);
    if (p.bool('clearWorkers')) io.out((await conn.request({ type: 'clearWorkers' }, 'ok')).message);
    if (p.bool('dashboard')) {
      // The code goes in the fragment, which the browser never sends (master/http/access.ts).
      const { code, expiresInS } = await conn.request({ type: 'dashboardLogin' }, 'loginCode');
      io.out(`${where.ca ? 'https' : 'http'}://${where.host}:${where.port}/login#${code}`);
      if (p.verbosity >= Verbosity.NORMAL) {
        io.err(`q: open it once, within ${Math.round(expiresInS / 60)} minutes, to log in (q -dashboard again for another)`);
      }
    }
    if (p.bool('shutdownMaster')) io.out((await conn.request({ type: 'shutdown' }, 'ok')).message);
  } finally {
    conn.close();
  }
  return exitCode;
}

async function printLog(
  conn: Connection,
  handle: string,
  follow: boolean,
  range: { head?: number; tail?: number },
  json: boolean,
  io: ClientIo,
): Promise<number> {
  let status = '';
  const chunks: Buffer[] = [];
  const req = { type: 'log' as const, handle, follow, ...(range.head ? { head: range.head } : {}), ...(range.tail ? { tail: range.tail } : {}) };
  await conn.stream(req, (msg) => {
    if (msg.type === 'logData') {
      const data = Buffer.from(msg.data, 'base64');
      if (json) chunks.push(data);
      else if (!process.stdout.write(data)) conn.waitForDrain(process.stdout);
      return false;
    }
    if (msg.type === 'logEnd') {
      status = msg.status;
      return true;
    }
    throw new QError(ErrorCodes.BAD_MESSAGE, `unexpected answer ${msg.type} to log`);
  });
  if (json) io.out(JSON.stringify({ handle, status, output: Buffer.concat(chunks).toString('utf8') }));
  if (status !== 'deleted') return 0;
  // Its log ended because it is gone, not because the job did: a script must not read it as complete.
  io.err(`q: ${handle} was deleted while its log was followed`);
  return 1;
}
