// `npm run bench -- add`: one `q -hold -add -` of a million lines (`--lines N`) into a fresh
// master, as a user runs it: seconds, jobs/s, the peak memory of the client and of the master,
// and the master's longest event-loop stall meanwhile (which it prints when it stops).
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numArg, sleep, until } from './helpers.js';

const BIN_Q = fileURLToPath(new URL('../../bin/q', import.meta.url));
const LINES = numArg('lines', 1_000_000);

/** Peak resident memory of a live process, in MB (VmHWM); null once it is gone. */
function peakMb(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'q-bench-add-'));
  const env: NodeJS.ProcessEnv = { ...process.env, Q_STATE: join(dir, 'state') };
  delete env.NODE_OPTIONS;
  const master = spawn(process.execPath, [BIN_Q, '-mode', 'master', '-masterPort', '0'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  master.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const port = Number((await until('the master', () => /port (\d+)/.exec(out)?.[1])));
    const input = join(dir, 'lines');
    writeFileSync(input, Array.from({ length: LINES }, (_, i) => `echo job ${i}`).join('\n') + '\n');
    const t0 = Date.now();
    const client = spawn(process.execPath, [BIN_Q, '-masterPort', String(port), '-hold', '-add', '-'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'inherit'] });
    createReadStream(input).pipe(client.stdin);
    let added = 0;
    let tail = '';
    client.stdout.on('data', (d: Buffer) => {
      const text = tail + d.toString();
      const lines = text.split('\n');
      tail = lines.pop()!;
      for (const l of lines) if (l.endsWith('added successfully')) added++;
    });
    let clientPeak = 0;
    const exited = new Promise<number | null>((r) => client.once('exit', r));
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    while (code === undefined) {
      clientPeak = Math.max(clientPeak, peakMb(client.pid!) ?? 0);
      await sleep(100);
    }
    const s = (Date.now() - t0) / 1000;
    const masterPeak = peakMb(master.pid!) ?? NaN;
    console.log(`add of ${LINES} lines: ${added} jobs added (exit ${code}) in ${s.toFixed(1)} s, ${Math.round(added / s)} jobs/s`);
    console.log(`peak memory: client ${Math.round(clientPeak)} MB, master ${Math.round(masterPeak)} MB`);
    master.kill('SIGTERM');
    await until('the master to stop', () => (master.exitCode !== null || master.signalCode !== null ? true : undefined), 60_000);
    const stall = /Longest event-loop delay: .*/.exec(out)?.[0];
    console.log(`master: ${stall ?? 'no stall figure printed'}`);
  } finally {
    if (master.exitCode === null) master.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
