// `npm run bench -- scale`: the master at scale, on this machine, with real master (and
// worker) processes on loopback. Builds the big cases itself and prints figures; asserts
// nothing. `--q DIR` measures the q checkout in DIR instead (built), so that two versions
// can be compared by the same script: everything goes through the wire protocol, and history
// rows are made finished with one SQL update while that master is stopped.
//
//   throughput     1,000 `true` jobs through one worker with -slots 4, with no backlog and
//                  with --backlog (1,000,000) ready jobs no worker can take (-queue nobody)
//   claim          one job at a time into the idle worker beside the backlog: submit → start
//   many workers   the master's CPU per job for a steady stream of jobs into 10 and into 1,000
//                  simulated workers (one process, real sockets)
//   open           a master restarted on the table of --backlog finished jobs: spawn → first answer
//   listings       -list status:running and -list J-… beside them; a full -list (rows/s, and
//                  the median of 15 times to its first row); the dashboard's page and counts,
//                  a /metrics scrape
//   memory, stall  the master's peak RSS; its longest event-loop delay, and what its thread did
//                  in its longest gap (ran, waited for a CPU, or was blocked: the master says it
//                  at shutdown); the longest answer to a one-job request sent every 20 ms
//                  throughout by a process of its own (probe.ts): what a stalled event loop
//                  makes every client wait
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { Connection } from '../client/connection.js';
import { makeJobSpec, type JobSpec } from '../protocol/jobSpec.js';
import { ADD_BATCH } from '../common/limits.js'; // as the client sends them
import { numArg, sleep } from './helpers.js';
import { DELAY_TICK_MS } from '../master/stallWatch.js'; // the tick of the masters it measures too

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const HERE = fileURLToPath(new URL('.', import.meta.url));
const Q_DIR = arg('q', fileURLToPath(new URL('../..', import.meta.url)));
const BIN_Q = join(Q_DIR, 'bin', 'q');
const BACKLOG = numArg('backlog', 1_000_000);
const N = numArg('jobs', 1000);
const SIM = numArg('workers', 1000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The median of 15 timings of `fn`, ms. */
async function medianOf15(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

function spec(command: string, over: Partial<JobSpec> = {}): JobSpec {
  return makeJobSpec({ command, workingPath: '/bench', time: 3600, mem: 64, disk: 1024, ...over });
}

interface Proc {
  p: ChildProcess;
  out: string;
}

function start(args: string[], env: NodeJS.ProcessEnv): Proc {
  const p = spawn(process.execPath, [BIN_Q, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { p, out: '' };
  p.stdout.on('data', (d: Buffer) => (proc.out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (proc.out += d.toString()));
  return proc;
}

async function waitFor<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** CPU seconds a process has used (user + system). */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

class Bench {
  readonly dir = mkdtempSync(join(tmpdir(), 'q-scale-'));
  readonly env: NodeJS.ProcessEnv = { ...process.env, Q_STATE: join(this.dir, 'state') };
  master: Proc | null = null;
  worker: Proc | null = null;
  port = 0;
  token = '';
  conn: Connection | null = null;
  /** Answer times of the stall probe, ms. */
  private probeMax = 0;
  private prober: ChildProcess | null = null;
  private probing: Promise<void> = Promise.resolve();
  peakRss = 0;
  readonly stalls: string[] = [];
  /** Each master's longest event-loop delay: the first added the backlog, the second listed the history. */
  readonly loopByMaster: number[] = [];
  /** Each master's longest gap between its ticks, and what its thread did in it (a version that says so). */
  readonly gapByMaster: string[] = [];

  async startMaster(): Promise<number> {
    const t0 = performance.now();
    const m = start(['-mode', 'master', '-masterPort', String(this.port)], this.env);
    this.master = m;
    this.port = Number((await waitFor('the master', () => /port (\d+)/.exec(m.out)?.[1])));
    this.token = readFileSync(join(this.dir, 'state', 'token'), 'utf8').trim();
    this.conn = await Connection.open({ host: '127.0.0.1', port: this.port, token: this.token, timeoutMs: 120_000 });
    await this.conn.request({ type: 'list', specs: ['J-000000'] }, 'jobs');
    return performance.now() - t0;
  }

  async stopMaster(): Promise<void> {
    this.conn?.close();
    const m = this.master!;
    this.peakRss = Math.max(this.peakRss, peakRssMb(m.p.pid!));
    m.p.kill('SIGTERM');
    await new Promise((r) => m.p.once('exit', r));
    this.master = null;
    // The master's own measure (monitorEventLoopDelay), where it has one, and its stalls.
    const said = /Longest event-loop delay: (\d+) ms(?: \(the longest gap between ticks, ([^)]*)\))?/.exec(m.out);
    if (said) {
      this.loopByMaster.push(Number(said[1]));
      if (said[2]) this.gapByMaster.push(said[2]);
    }
    const lines = m.out.split('\n');
    lines.forEach((l, i) => /did not run for/.test(l) && this.stalls.push(`${lines[i - 1] ?? ''} | ${l}`));
  }

  async startWorker(): Promise<void> {
    this.worker = start(['-mode', 'worker', '-masterPort', String(this.port), '-slots', '4', '-handle', 'bench', '-basePath', join(this.dir, 'scratch')], this.env);
    await waitFor('the worker', async () => (await this.conn!.request({ type: 'workers' }, 'workerList')).workers.some((w) => w.connected && w.handle === 'bench') || undefined);
  }

  async stopWorker(): Promise<void> {
    const w = this.worker!;
    w.p.kill('SIGTERM');
    await new Promise((r) => w.p.once('exit', r));
    this.worker = null;
  }

  /** The stall probe (probe.ts), beside this process: the longest answer is the longest stall. */
  probe(): void {
    const p = spawn(process.execPath, [join(HERE, 'probe.js'), String(this.port), this.token], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    this.probing = new Promise<void>((r) => p.once('exit', () => r())).then(() => {
      this.probeMax = Math.max(this.probeMax, Number(out.trim()) || 0);
    });
    this.prober = p;
  }

  async stopProbe(): Promise<number> {
    this.prober?.kill('SIGTERM');
    await this.probing;
    this.prober = null;
    return this.probeMax;
  }

  async add(jobs: JobSpec[]): Promise<string[]> {
    const handles: string[] = [];
    for (let i = 0; i < jobs.length; i += ADD_BATCH) {
      handles.push(...(await this.conn!.request({ type: 'add', jobs: jobs.slice(i, i + ADD_BATCH) }, 'added')).handles);
    }
    return handles;
  }

  /**
   * `n` jobs made a batch at a time, their handles not kept: a million specs held at once were
   * ~200 MB of this process, whose collector then shared the two cores with the master it times.
   */
  async addMany(n: number, make: () => JobSpec): Promise<void> {
    for (let i = 0; i < n; i += ADD_BATCH) {
      await this.conn!.request({ type: 'add', jobs: Array.from({ length: Math.min(ADD_BATCH, n - i) }, make) }, 'added');
    }
  }

  async finished(handles: string[]): Promise<number> {
    for (let i = handles.length - 1; i >= 0; ) {
      const [job] = (await this.conn!.request({ type: 'list', specs: [handles[i]!] }, 'jobs')).jobs;
      if (job?.status === 'done' || job?.status === 'failed') i--;
      else await sleep(20);
    }
    let last = 0;
    for (let i = 0; i < handles.length; i += 1000) {
      const { jobs } = await this.conn!.request({ type: 'list', specs: handles.slice(i, i + 1000) }, 'jobs');
      for (const j of jobs) last = Math.max(last, j.finishedAt ?? 0);
    }
    return last;
  }

  async throughput(): Promise<number> {
    const t0 = Date.now();
    const handles = await this.add(Array.from({ length: N }, () => spec('true')));
    const last = await this.finished(handles);
    await this.conn!.request({ type: 'delete', specs: handles.slice(0, 1000) }, 'affected');
    return N / ((last - t0) / 1000);
  }

  async claimLatency(n: number): Promise<number> {
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const [h] = await this.add([spec('true')]);
      const job = await waitFor('a start', async () => {
        const [j] = (await this.conn!.request({ type: 'list', specs: [h!] }, 'jobs')).jobs;
        return j?.startedAt ? j : undefined;
      });
      lat.push(job.startedAt! - job.createdAt);
      await this.finished([h!]);
    }
    return median(lat);
  }

  /** Master CPU seconds per job for a steady stream into `count` simulated workers. */
  async simulated(count: number, jobs: number): Promise<number> {
    const socks = await simulateWorkers(this.port, this.token, count);
    await waitFor('simulated workers', async () => (await this.conn!.request({ type: 'workers' }, 'workerList')).workers.filter((w) => w.connected && w.handle.startsWith('sim-')).length >= count || undefined, 120_000);
    await sleep(500);
    const pid = this.master!.p.pid!;
    const cpu0 = cpuOf(pid);
    const handles: string[] = [];
    for (let i = 0; i < jobs; i += 50) {
      handles.push(...(await this.add(Array.from({ length: 50 }, () => spec('true')))));
      await sleep(50);
    }
    await this.finished(handles);
    const perJob = (cpuOf(pid) - cpu0) / jobs;
    for (const s of socks) s.close();
    await waitFor('simulated workers gone', async () => (await this.conn!.request({ type: 'workers' }, 'workerList')).workers.every((w) => !w.connected || !w.handle.startsWith('sim-')) || undefined);
    await this.conn!.request({ type: 'delete', specs: handles.slice(0, 1000) }, 'affected');
    return perJob;
  }

  /**
   * `q -list` as a user runs it, to its first row and (`whole`) to its end: ms from the spawn
   * to the first byte of output, and the rows printed. Not `whole`: the client is ended at its
   * first row.
   */
  async list(whole: boolean): Promise<{ firstMs: number; rows: number; totalMs: number }> {
    const t0 = performance.now();
    const p = spawn(process.execPath, [BIN_Q, '-masterPort', String(this.port), '-list', '-tabs'], { env: this.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let first = 0;
    let lines = 0;
    p.stdout.on('data', (d: Buffer) => {
      if (!first) {
        first = performance.now() - t0;
        if (!whole) p.kill();
      }
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
    });
    await new Promise((r) => p.once('exit', r));
    return { firstMs: first, rows: lines, totalMs: performance.now() - t0 };
  }

  /** A full `q -list`'s rows per second, and the median of 15 times to its first row (one process start is noisy). */
  async fullList(): Promise<{ firstMs: number; rows: number; rowsPerS: number }> {
    const full = await this.list(true);
    const firsts = [full.firstMs];
    for (let i = 1; i < 15; i++) firsts.push((await this.list(false)).firstMs);
    return { firstMs: median(firsts), rows: full.rows, rowsPerS: full.rows / (full.totalMs / 1000) };
  }

  /** The dashboard's reads and a Prometheus scrape: medians of 15, request → answer (null: a version without them). */
  async dashboardLatency(): Promise<{ scrape: number; page: number; counts: number } | null> {
    // A version from before answers no plain HTTP at all: its request never ends.
    const probe = await fetch(`http://127.0.0.1:${this.port}/metrics`, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(2000) }).catch(() => null);
    if (!probe || probe.status !== 200) return null;
    const scrape = await medianOf15(() => fetch(`http://127.0.0.1:${this.port}/metrics`, { headers: { authorization: `Bearer ${this.token}` } }).then((r) => r.text()));
    const page = await medianOf15(() => this.conn!.request({ type: 'rowPage', specs: ['status:done'], from: null, limit: 50, newest: true }, 'rowPage'));
    const counts = await medianOf15(() => this.conn!.request({ type: 'counts' }, 'counts'));
    return { scrape, page, counts };
  }

  listLatency(specs: string[]): Promise<number> {
    return medianOf15(() => this.conn!.request({ type: 'list', specs }, 'jobs'));
  }
}

/** `count` workers in this process: each says hello, heartbeats, and finishes what it is given at once. */
async function simulateWorkers(port: number, token: string, count: number): Promise<WebSocket[]> {
  const resources = { hostname: 'sim', cpus: 4, cpuSpeed: 2000, freeMem: 8000, freeDisk: 100_000, busyProcesses: [] };
  const socks: WebSocket[] = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { headers: { authorization: `Bearer ${token}`, 'x-q-role': 'worker' }, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'workerHello', handle: `sim-${i}`, slots: 1, maxTime: null, resources, running: [] }));
    const beat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'heartbeat', resources })), 5000);
    ws.on('close', () => clearInterval(beat));
    ws.on('message', (data, binary) => {
      if (binary) return;
      const msg = JSON.parse((data as Buffer).toString()) as { type: string; job?: { handle: string; lease: string } };
      if (msg.type !== 'assign' || !msg.job) return;
      const { handle, lease } = msg.job;
      ws.send(JSON.stringify({ type: 'started', handle, lease }));
      ws.send(JSON.stringify({ type: 'finished', handle, lease, result: { exitCode: 0, exitReason: null, realTime: 0.01, userTime: 0, maxMem: 1, maxDisk: 0 } }));
    });
    socks.push(ws);
  }
  return socks;
}

async function main(): Promise<void> {
  const b = new Bench();
  try {
    console.log(`q scale bench: ${Q_DIR}, backlog ${BACKLOG}, ${N} jobs, node ${process.version}`);
    await b.startMaster();
    b.probe();
    await b.startWorker();
    const plain = await b.throughput();
    const a0 = performance.now();
    await b.addMany(BACKLOG, () => spec('true', { queue: 'nobody' }));
    const addS = (performance.now() - a0) / 1000;
    const backed = await b.throughput();
    console.log(`throughput: ${plain.toFixed(0)} jobs/s with no backlog, ${backed.toFixed(0)} jobs/s beside ${BACKLOG} unrunnable ready jobs: ratio ${(backed / plain).toFixed(2)} (backlog added in ${addS.toFixed(1)} s)`);
    console.log(`claim: submit → start p50 ${(await b.claimLatency(50)).toFixed(0)} ms beside the backlog (ms clock, 50 jobs one at a time)`);
    await b.stopWorker();
    if (SIM > 0) {
      const few = await b.simulated(10, 2000);
      const many = await b.simulated(SIM, 2000);
      console.log(`many workers: master CPU ${(few * 1000).toFixed(2)} ms/job with 10 simulated workers, ${(many * 1000).toFixed(2)} ms/job with ${SIM}: ratio ${(many / few).toFixed(2)}`);
    } else console.log('many workers: skipped (--workers 0)');
    await b.stopProbe();
    await b.stopMaster();
    // The backlog becomes history: finished jobs, as months of use leave them.
    const db = new Database(join(b.dir, 'state', 'q.db'));
    db.exec(`UPDATE jobs SET status = 'done', exit_code = 0, started_at = created_at, finished_at = created_at + 1000 WHERE status = 'ready'`);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const someone = (db.prepare(`SELECT handle FROM jobs ORDER BY seq DESC LIMIT 1`).get() as { handle: string } | undefined)?.handle;
    db.close();
    const openMs = await b.startMaster();
    b.probe();
    console.log(`open: a master on ${BACKLOG} finished jobs answers ${openMs.toFixed(0)} ms after it is started`);
    const running = await b.listLatency(['status:running']);
    const one = someone ? await b.listLatency([someone]) : NaN;
    console.log(`listings: -list status:running ${running.toFixed(1)} ms, -list ${someone ?? '?'} ${one.toFixed(1)} ms (medians of 15, request → answer)`);
    const dash = await b.dashboardLatency();
    console.log(
      dash
        ? `dashboard: /metrics scrape ${dash.scrape.toFixed(1)} ms, a page of 50 (status:done, newest) ${dash.page.toFixed(1)} ms, status counts ${dash.counts.toFixed(1)} ms (medians of 15)`
        : 'dashboard: not in this version',
    );
    const full = await b.fullList();
    console.log(`full -list: first row after ${full.firstMs.toFixed(0)} ms (median of 15), ${full.rows} rows at ${full.rowsPerS.toFixed(0)} rows/s (whole client process)`);
    const stall = await b.stopProbe();
    await b.stopMaster();
    const loopMax = Math.max(-1, ...b.loopByMaster);
    const names = ['adding', 'listing'];
    // What a gap held beyond the histogram's tick: what the loop was held up (an idle master shows a gap of 10-11 ms).
    const held = (gap: number) => Math.max(0, gap - DELAY_TICK_MS);
    const loop =
      loopMax < 0
        ? 'not measured by this version'
        : `${held(loopMax)} ms (${b.loopByMaster.map((ms, i) => `${names[i] ?? 'master'}: ${held(ms)}`).join(', ')}; monitorEventLoopDelay's longest gap between its ${DELAY_TICK_MS} ms ticks: ${loopMax} ms)`;
    console.log(`master: peak RSS ${b.peakRss.toFixed(0)} MB; longest event-loop stall ${loop}; longest answer to a one-job request sent every 20 ms: ${stall.toFixed(0)} ms`);
    if (b.gapByMaster.length) console.log(`  what the master's thread did in its longest gap: ${b.gapByMaster.map((g, i) => `${names[i] ?? 'master'} ${g}`).join('; ')}`);
    for (const s of b.stalls) console.log(`  stall after: ${s}`);
  } finally {
    await b.stopProbe();
    for (const p of [b.worker, b.master]) if (p && p.p.exitCode === null) p.p.kill('SIGKILL');
    await sleep(300);
    rmSync(b.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
