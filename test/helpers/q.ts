// Spawns the real bin/q processes for integration tests: a master on a free loopback port with
// its own state directory, workers beside it, and client calls. Every process started here is
// ended by its pid when the test ends; every wait is bounded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { Connection } from '../../src/client/connection.js';
import { jobRow } from '../../src/client/render.js';
import { LIST_COLUMNS } from '../../src/jobs/listCells.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN_Q = fileURLToPath(new URL('../../bin/q', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface QResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < timeoutMs / everyMs + 10; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
}

/** A process of ours, with what it printed so far. */
export class Proc {
  out = '';
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.out += d.toString()));
  }
  get pid(): number {
    return this.child.pid!;
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  waitForOutput(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return waitFor(`${re} in output of pid ${this.pid}:\n${this.out}`, () => this.out.match(re) ?? undefined, timeoutMs);
  }
  exited(): Promise<number | null> {
    if (!this.alive) return Promise.resolve(this.child.exitCode);
    return new Promise((r) => this.child.once('exit', (code) => r(code)));
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    if (!this.alive) return;
    const done = this.exited();
    process.kill(this.pid, signal);
    const timer = setTimeout(() => this.alive && process.kill(this.pid, 'SIGKILL'), timeoutMs);
    await done;
    clearTimeout(timer);
  }
}

/** A port of 127.0.0.1 nothing listens on now (taken and let go). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// tap re-injects its loaders (NODE_OPTIONS) into every child it sees spawned; `env -u` takes
// them out again so that bin/q runs as it does for a user.
const ENV = '/usr/bin/env';
const UNSET = ['-u', 'NODE_OPTIONS'];

/** The environment a user would have: none of the test runner's loaders or settings. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(NODE_OPTIONS|TAP|_TAPJS|TS_NODE|Q_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * SIGKILL to every process (but this one) whose working directory is inside `dir`. All are
 * stopped first: a slot shell that saw its job die before its own KILL would still write the
 * job's exit file into a directory the teardown is removing.
 */
export async function killProcessesIn(dir: string): Promise<void> {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${name}/cwd`);
    } catch {
      continue;
    }
    if (cwd !== dir && !cwd.startsWith(dir + '/')) continue;
    found.push(Number(name));
  }
  for (const sig of ['SIGSTOP', 'SIGKILL'] as const) {
    for (const pid of found) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
  }
  // A signal takes effect once a write under way has finished: wait until they are gone
  // (or zombies), bounded.
  const dead = (pid: number) => {
    try {
      return /^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  };
  for (let i = 0; i < 150 && !found.every(dead); i++) await new Promise((r) => setTimeout(r, 20));
}

/**
 * A directory of the test's own, removed once everything started in it has ended. Its
 * teardown, registered before the cluster's and so run after them (tap runs teardowns last
 * first), ends whatever still runs there, the slot shells and jobs of workers the test killed
 * -9 included (they live in sessions of their own, outside any process tree of ours), and
 * then removes it. Not
 * t.testdir(): tap removes that one before it runs the test's teardowns, while the master and
 * workers still write into it; the removal then fails, and tap skips the teardowns left, so
 * the processes stay and the file hangs until its timeout.
 */
export function scratchDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'q-test-'));
  t.teardown(async () => {
    await killProcessesIn(dir);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  return dir;
}

/** A `-list` row by its column names: the same list as the code's. */
export type Row = Record<(typeof LIST_COLUMNS)[number], string>;

function toRow(cells: readonly string[]): Row {
  return Object.fromEntries(LIST_COLUMNS.map((n, i) => [n, cells[i] ?? ''])) as Row;
}

export class Cluster {
  port = 0;
  master: Proc | null = null;
  readonly workers: Proc[] = [];
  readonly state: string;
  readonly env: NodeJS.ProcessEnv;

  /** `dir`: a scratchDir(), whose teardown ends what the cluster leaves running in it. */
  constructor(
    private readonly t: Teardown,
    readonly dir: string = scratchDir(t),
    opts: { state?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    this.state = opts.state ?? join(dir, 'state');
    this.env = opts.env ?? cleanEnv({ Q_STATE: this.state, HOME: dir });
  }

  /** `stdin`: a descriptor the process reads as its standard input (default none). */
  spawnQ(args: string[], opts: { stdin?: number } = {}): Proc {
    const node = args.includes('-mode') ? this.nodeArgs : [];
    const p = new Proc(spawn(ENV, [...UNSET, process.execPath, ...node, BIN_Q, ...args], { cwd: this.dir, env: this.env, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] }));
    this.t.teardown(() => p.stop('SIGKILL'));
    return p;
  }

  /** Node options for the master and workers started from now on (e.g. a small heap). */
  nodeArgs: string[] = [];

  async startMaster(extra: string[] = []): Promise<Proc> {
    const m = this.spawnQ(['-mode', 'master', '-masterPort', String(this.port), ...extra]);
    const [, port] = await m.waitForOutput(/===== master \(port (\d+)/);
    this.port = Number(port);
    this.master = m;
    return m;
  }

  /** Starts a worker and waits until the master lists it as connected. */
  async startWorker(handle: string, extra: string[] = []): Promise<Proc> {
    const base = join(this.dir, 'scratch-' + handle);
    mkdirSync(base, { recursive: true });
    const w = this.spawnQ([
      '-mode', 'worker', '-masterPort', String(this.port), '-handle', handle, '-basePath', base,
      '-sleepInterval', '1', '-killGrace', '1', ...extra,
    ]);
    this.workers.push(w);
    await waitFor(`worker ${handle} connected`, async () => {
      const workers = await this.ask((c) => c.request({ type: 'workers' }, 'workerList').then((r) => r.workers));
      return workers?.some((v) => v.handle === handle && v.connected);
    });
    return w;
  }

  /** One client call, run to completion. */
  q(args: string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): QResult {
    const r = spawnSync(ENV, [...UNSET, process.execPath, BIN_Q, '-masterPort', String(this.port), ...args], {
      cwd: opts.cwd ?? this.dir,
      env: { ...this.env, ...opts.env },
      input: opts.input ?? '',
      encoding: 'utf8',
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Adds one job and returns its handle. */
  add(args: string[], opts: { cwd?: string } = {}): string {
    const r = this.q(args, opts);
    const m = /Job (J-[0-9a-z]{6}) added successfully/.exec(r.stdout);
    if (!m) throw new Error(`add failed: ${r.stdout}${r.stderr}`);
    return m[1]!;
  }

  /** The job's -list -tabs row as named columns. */
  row(handle: string): Row | undefined {
    const line = this.q(['-list', `handle:${handle}`, '-tabs']).stdout.split('\n').find((l) => l.startsWith(handle));
    if (!line) return undefined;
    const c = line.split('\t');
    return toRow(c);
  }

  /**
   * Waits, asking through the client library rather than a `q` process per poll: a node
   * process per 100 ms kept a whole CPU busy while tests only waited. The row it returns is
   * the one `q -list -tabs` prints (the same rendering code).
   */
  async waitForStatus(handle: string, statuses: string[], timeoutMs = 15_000): Promise<Row> {
    return waitFor(`${handle} to be ${statuses.join('|')}`, async () => {
      const jobs = await this.ask((c) => c.request({ type: 'list', specs: [`handle:${handle}`] }, 'jobs').then((r) => r.jobs));
      const job = jobs?.[0];
      if (!job || !statuses.includes(job.status)) return undefined;
      const c = jobRow(job, true);
      return toRow(c);
    }, timeoutMs, 100);
  }

  private conn: Connection | null = null;

  /** A request over a kept connection to the master; undefined (and a fresh connection next time) when it fails. */
  async ask<T>(fn: (c: Connection) => Promise<T>): Promise<T | undefined> {
    try {
      if (!this.conn) {
        const token = this.env.Q_TOKEN ?? readFileSync(join(this.state, 'token'), 'utf8').trim();
        this.conn = await Connection.open({ host: '127.0.0.1', port: this.port, token, timeoutMs: 2000 });
        const conn = this.conn;
        this.t.teardown(() => conn.close());
      }
      return await fn(this.conn);
    } catch {
      this.conn?.close();
      this.conn = null;
      return undefined;
    }
  }
}

/**
 * Freezes a process as a hung machine would (SIGSTOP: no heartbeats, no socket close), and
 * makes sure it runs again at the end of the test, so that its own teardown can end it.
 */
export function freeze(t: Teardown, pid: number): void {
  process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  });
}
