// `npm run bench -- workflow`: what waiting for jobs costs, with a real master and worker on
// loopback. Prints figures; asserts nothing.
//   chain    --chain (1,000) `true` jobs, each -after the one before, through one worker with
//            one slot, against as many independent jobs through the same worker: the
//            difference per job is what a link costs (from the end of one to the start of the
//            next: the master settles the row, releases, picks, and the worker is told)
//   fan-in   --fanIn (10,000) jobs, then one -after all of them: how long from the end of the
//            last of them to the start of the one that waited (the release of the last is one
//            pass over its rows)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '../client/connection.js';
import { makeJobSpec } from '../protocol/jobSpec.js';
import type { JobView } from '../protocol/jobState.js';
import { numArg, sleep, until } from './helpers.js';

const CHAIN = numArg('chain', 1000);
const FAN_IN = numArg('fanIn', 10_000);
const BIN_Q = fileURLToPath(new URL('../../bin/q', import.meta.url));
const spec = () => makeJobSpec({ command: 'true', workingPath: '/bench', time: 3600, mem: 64, disk: 1024 });


async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'q-workflow-'));
  const env = { ...process.env, Q_STATE: join(dir, 'state') };
  const procs: ChildProcess[] = [];
  const start = (args: string[]) => {
    const p = spawn(process.execPath, [BIN_Q, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] as const });
    procs.push(p);
    return p;
  };
  try {
    const master = start(['-mode', 'master', '-masterPort', '0']);
    let out = '';
    master.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const port = Number(await until('the master', () => Promise.resolve(/port (\d+)/.exec(out)?.[1])));
    const token = readFileSync(join(dir, 'state', 'token'), 'utf8').trim();
    const conn = await Connection.open({ host: '127.0.0.1', port, token, timeoutMs: 60_000 });
    const w = start(['-mode', 'worker', '-masterPort', String(port), '-slots', '1', '-handle', 'bench', '-basePath', join(dir, 'scratch')]);
    w.stdout.resume();
    await until('the worker', async () => ((await conn.request({ type: 'workers' }, 'workerList')).workers.some((x) => x.connected) ? true : undefined));
    const views = async (handles: string[]) => {
      const all: JobView[] = [];
      for (let i = 0; i < handles.length; i += 1000) all.push(...(await conn.request({ type: 'list', specs: handles.slice(i, i + 1000) }, 'jobs')).jobs);
      return all;
    };
    const ended = async (handles: string[]) => {
      await until('the jobs', async () => {
        const [last] = await views([handles[handles.length - 1]!]);
        return last?.status === 'done' || last?.status === 'failed' ? true : undefined;
      });
      return views(handles);
    };
    const span = (jobs: JobView[]) => Math.max(...jobs.map((j) => j.finishedAt!)) - Math.min(...jobs.map((j) => j.startedAt!));
    console.log(`q workflow bench: chain ${CHAIN}, fan-in ${FAN_IN}, node ${process.version}`);

    const free: string[] = [];
    for (let i = 0; i < CHAIN; i += 500) free.push(...(await conn.request({ type: 'add', jobs: Array.from({ length: Math.min(500, CHAIN - i) }, spec) }, 'added')).handles);
    const freeMs = span(await ended(free));
    const held = (await conn.request({ type: 'add', jobs: [spec()], hold: true }, 'added')).handles;
    const chain = [...held];
    for (let i = 1; i < CHAIN; i++) chain.push(...(await conn.request({ type: 'add', jobs: [spec()], after: [chain[i - 1]!] }, 'added')).handles);
    await conn.request({ type: 'release', specs: held }, 'affected');
    const chained = await ended(chain);
    const chainMs = span(chained);
    const gaps = chained.slice(1).map((j, i) => j.startedAt! - chained[i]!.finishedAt!).sort((a, b) => a - b);
    console.log(
      `chain: ${CHAIN} jobs each after the last in ${(chainMs / 1000).toFixed(2)} s, ${CHAIN} independent in ${(freeMs / 1000).toFixed(2)} s: ` +
        `${((chainMs - freeMs) / CHAIN).toFixed(2)} ms a link; end → next start p50 ${gaps[Math.floor(gaps.length / 2)]} ms, p99 ${gaps[Math.floor(gaps.length * 0.99)]} ms`,
    );

    const sweep: string[] = [];
    for (let i = 0; i < FAN_IN; i += 500) sweep.push(...(await conn.request({ type: 'add', jobs: Array.from({ length: Math.min(500, FAN_IN - i) }, spec), hold: true }, 'added')).handles);
    const [last] = (await conn.request({ type: 'add', jobs: [spec()], after: sweep }, 'added')).handles;
    const a0 = performance.now();
    await conn.request({ type: 'release', specs: ['status:held'] }, 'affected');
    const releaseMs = performance.now() - a0;
    const [fanned] = await ended([last!]);
    const sweepEnd = Math.max(...(await views(sweep)).map((j) => j.finishedAt!));
    console.log(`fan-in: ${FAN_IN} jobs into one: it started ${fanned!.startedAt! - sweepEnd} ms after the last of them ended (release of ${FAN_IN} held: ${releaseMs.toFixed(0)} ms)`);
    conn.close();
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
