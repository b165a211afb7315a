// What a worker tells the master about its machine: the scheduler fits jobs into freeMem,
// and `q -w` shows the rest.
import type { ContainerPolicy } from '../protocol/containerPolicy.js';
import { Q_VERSION } from '../common/version.js';
import { readdirSync, readFileSync, statfsSync } from 'node:fs';
import { cpus, freemem } from 'node:os';
import type { Resources } from '../protocol/resources.js';
import { TICKS_PER_SECOND, type ProcTable } from './procTable.js';

/** MemAvailable: what can be allocated without swapping (free + reclaimable cache). */
export function availableMemMb(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Math.floor(Number(m[1]) / 1024);
  } catch {
    // not Linux
  }
  return Math.floor(freemem() / 1024 / 1024);
}

export function freeDiskMb(path: string): number {
  try {
    const s = statfsSync(path);
    return Math.floor((s.bavail * s.bsize) / 1024 / 1024);
  } catch {
    return -1;
  }
}

/** Processes that used more than half a CPU since the previous table: `cpu%,memMB[comm]`. */
export function busyProcesses(prev: ProcTable | null, cur: ProcTable, elapsedMs: number): string[] {
  if (!prev || elapsedMs <= 0) return [];
  const busy: { pct: number; text: string }[] = [];
  for (const p of cur.values()) {
    const before = prev.get(p.pid);
    if (!before) continue;
    const pct = ((p.ticks - before.ticks) / TICKS_PER_SECOND / (elapsedMs / 1000)) * 100;
    if (pct > 50) busy.push({ pct, text: `${Math.round(pct)},${Math.round(p.rssBytes / 1048576)}[${p.comm}]` });
  }
  return busy
    .sort((a, b) => b.pct - a.pct)
    .slice(0, 10)
    .map((b) => b.text);
}

let gpus: number | null = null;

/** NVIDIA GPUs of this machine (its /dev/nvidiaN devices); counted once. */
function gpuCount(): number {
  if (gpus === null) {
    try {
      gpus = readdirSync('/dev').filter((d) => /^nvidia\d+$/.test(d)).length;
    } catch {
      gpus = 0;
    }
  }
  return gpus;
}

/** MHz; some VMs report 0 through os.cpus() but still say it in /proc/cpuinfo. */
function cpuSpeed(reported: number | undefined): number {
  if (reported) return reported;
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? Math.round(Number(m[1])) : 0;
  } catch {
    return 0;
  }
}

export function resources(
  hostname: string,
  basePath: string,
  busy: string[],
  docker: { version: string | null; bare: boolean; queues: string[]; policy: ContainerPolicy },
  isolation: string,
  minFreeDisk = 0,
): Resources {
  const list = cpus();
  return {
    hostname,
    cpus: list.length,
    cpuSpeed: cpuSpeed(list[0]?.speed),
    freeMem: availableMemMb(),
    freeDisk: freeDiskMb(basePath),
    busyProcesses: busy,
    version: Q_VERSION,
    docker: docker.version,
    bare: docker.bare,
    gpus: gpuCount(),
    queues: docker.queues,
    policy: docker.policy,
    isolation,
    minFreeDisk,
  };
}
