// A control group per process job: the job's processes are the ones in it, whatever they do.
//
// Why: a process that calls `setsid` (or forks twice first) leaves its job's process tree,
// session and process group; found by tree or group, it outlived `-kill` and its memory went
// unmeasured. The kernel keeps every descendant of a process in that process's cgroup, and
// only a privileged writer can move it out. So, as Slurm's proctrack/cgroup does, each job's
// subshell puts itself into a cgroup made for the job before it runs the command, and:
// - membership: the job's processes are the cgroup's (`cgroup.procs`);
// - measurement: memory from the cgroup's own accounting (`memory.stat`: anonymous plus
//   mapped file memory, what RSS counts) and user CPU time (`cpuacct.stat` in v1,
//   `cpu.stat` in v2), which includes processes that already exited;
// - kill: every process in it (`cgroup.kill` in v2 ends them all at once, in v1 each pid is
//   signalled until none is left); when the job's shell ends, what it left in the cgroup is
//   ended too, and the cgroup is removed.
//
// Both versions, and the hybrid layout (v1 controllers with a v2 tree at
// /sys/fs/cgroup/unified, as on this project's test machines), are used as found: each
// hierarchy that can be written to gets a directory `q-WORKER/JOB` under this worker's own
// cgroup in it, so limits set on the worker (a systemd slice, a container) still hold for
// its jobs. Where none can be made (not root, no cgroupfs), `CgroupHost.detect` says why; the
// worker logs it, shows it in `-w`, and falls back to process trees and groups.
import { readdirSync, readFileSync, rmdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a hierarchy is used for: `unified` (v2) gives membership, kill and CPU (and memory when enabled). */
type Kind = 'unified' | 'memory' | 'cpuacct';

interface Hierarchy {
  kind: Kind;
  /** This worker's directory in it: MOUNT/OWN_CGROUP/q-WORKER. */
  dir: string;
}

/** Cgroup names keep to letters, digits, `-`, `_` and `.`. */
function safeName(s: string): string {
  return s.replace(/[^\w.-]/g, '_').slice(0, 200);
}

/** Mounts of cgroup filesystems: [mount point, fs type, super options]. */
function cgroupMounts(): { point: string; v2: boolean; options: string[] }[] {
  const out: { point: string; v2: boolean; options: string[] }[] = [];
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const before = line.slice(0, sep).split(' ');
    const after = line.slice(sep + 3).split(' ');
    const fstype = after[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ point: before[4]!.replace(/\\040/g, ' '), v2: fstype === 'cgroup2', options: (after[2] ?? '').split(',') });
  }
  return out;
}

/** This process's cgroup in each hierarchy: '' for v2, else the controller list, to the path. */
function ownCgroups(): Map<string, string> {
  const own = new Map<string, string>();
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const m = /^\d+:([^:]*):(.*)$/.exec(line);
      if (m) own.set(m[1]!, m[2]!);
    }
  } catch {
    // not Linux
  }
  return own;
}

function readNumbers(path: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v !== undefined) values.set(k, Number(v));
  }
  return values;
}

export class CgroupHost {
  private constructor(private readonly hierarchies: Hierarchy[]) {}

  /**
   * The cgroup hierarchies this worker can make job cgroups in, or why there are none.
   * `worker` names its directory, so that two workers on one machine keep apart.
   */
  static detect(worker: string): CgroupHost | { problem: string } {
    const own = ownCgroups();
    const found: Hierarchy[] = [];
    const problems: string[] = [];
    for (const m of cgroupMounts()) {
      let kind: Kind | null = null;
      let ownPath: string | undefined;
      if (m.v2) {
        kind = 'unified';
        ownPath = own.get('');
      } else {
        for (const k of ['memory', 'cpuacct'] as const) {
          if (!m.options.includes(k)) continue;
          kind = k;
          ownPath = [...own.entries()].find(([ctrls]) => ctrls.split(',').includes(k))?.[1];
        }
      }
      if (!kind || ownPath === undefined || found.some((h) => h.kind === kind)) continue;
      const dir = join(m.point, ownPath, `q-${safeName(worker)}`);
      try {
        mkdirSync(dir, { recursive: true });
        found.push({ kind, dir });
      } catch (e) {
        problems.push(`${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    if (found.length === 0) {
      return { problem: problems.length ? `cannot make cgroups (${problems.join('; ')})` : 'no cgroup filesystem is mounted' };
    }
    return new CgroupHost(found);
  }

  /** For the log and `-w`: which hierarchies hold the jobs. */
  describe(): string {
    return `cgroup (${this.hierarchies.map((h) => (h.kind === 'unified' ? 'v2' : `v1 ${h.kind}`)).join(', ')})`;
  }

  /** Makes the cgroup of one run of a job. */
  create(name: string): JobCgroup {
    const dirs = this.hierarchies.map((h) => ({ kind: h.kind, dir: join(h.dir, safeName(name)) }));
    for (const d of dirs) mkdirSync(d.dir, { recursive: true });
    return new JobCgroup(dirs);
  }

  /** The cgroup of a run made earlier (by a previous run of this worker), if it is still there. */
  find(name: string): JobCgroup | null {
    const dirs = this.hierarchies.map((h) => ({ kind: h.kind, dir: join(h.dir, safeName(name)) }));
    try {
      for (const d of dirs) readdirSync(d.dir);
    } catch {
      return null;
    }
    return new JobCgroup(dirs);
  }

  /** The worker stops: its own directories go, where no job's cgroup is left in them. */
  close(): void {
    for (const h of this.hierarchies) {
      try {
        rmdirSync(h.dir);
      } catch {
        // a job of this worker still runs in it (taken back on the next start)
      }
    }
  }

  /** Removes job cgroups that are empty (left by runs that ended while no worker watched). */
  sweep(keep: (name: string) => boolean): void {
    for (const h of this.hierarchies) {
      let names: string[];
      try {
        names = readdirSync(h.dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
      } catch {
        continue;
      }
      for (const n of names) {
        if (keep(n)) continue;
        try {
          rmdirSync(join(h.dir, n)); // refused while a process is in it
        } catch {
          // busy: a job of a previous run still runs there
        }
      }
    }
  }
}

export class JobCgroup {
  constructor(private readonly dirs: { kind: Kind; dir: string }[]) {}

  /** The directory's name: the run it belongs to. */
  get name(): string {
    return this.dirs[0]!.dir.split('/').pop()!;
  }

  /** Files the job's subshell writes `0` into to put itself in this cgroup. */
  get joinFiles(): string[] {
    return this.dirs.map((d) => join(d.dir, 'cgroup.procs'));
  }

  private dir(kind: Kind): string | null {
    return this.dirs.find((d) => d.kind === kind)?.dir ?? null;
  }

  /** Every process in it now. */
  pids(): number[] {
    const dir = this.dir('unified') ?? this.dirs[0]!.dir;
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  empty(): boolean {
    return this.pids().length === 0;
  }

  /** Anonymous plus mapped file memory in MB, or null where no memory controller counts it. */
  memoryMb(): number | null {
    try {
      const v1 = this.dir('memory');
      if (v1) {
        const s = readNumbers(join(v1, 'memory.stat'));
        return ((s.get('rss') ?? 0) + (s.get('mapped_file') ?? 0)) / 1048576;
      }
      const v2 = this.dir('unified');
      if (v2) {
        const s = readNumbers(join(v2, 'memory.stat')); // only where the memory controller is on
        return ((s.get('anon') ?? 0) + (s.get('file_mapped') ?? 0)) / 1048576;
      }
    } catch {
      // no such file
    }
    return null;
  }

  /** User CPU seconds of every process that was ever in it, or null. */
  userSeconds(): number | null {
    try {
      const v1 = this.dir('cpuacct');
      if (v1) return (readNumbers(join(v1, 'cpuacct.stat')).get('user') ?? 0) / 100; // USER_HZ
      const v2 = this.dir('unified');
      if (v2) return (readNumbers(join(v2, 'cpu.stat')).get('user_usec') ?? 0) / 1e6;
    } catch {
      // no such file
    }
    return null;
  }

  /** Sends `sig` to every process in it. */
  signal(sig: NodeJS.Signals): void {
    if (sig === 'SIGKILL') {
      const v2 = this.dir('unified');
      if (v2) {
        try {
          writeFileSync(join(v2, 'cgroup.kill'), '1');
          return;
        } catch {
          // a kernel before 5.14: one by one
        }
      }
    }
    for (const pid of this.pids()) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
  }

  /**
   * Ends everything in it and removes it, waiting (bounded) for the processes to go. A
   * fork racing the kill is caught by the next round.
   */
  async destroy(): Promise<void> {
    for (let i = 0; i < 100 && !this.empty(); i++) {
      this.signal('SIGKILL');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const d of [...this.dirs].reverse()) {
      try {
        rmdirSync(d.dir);
      } catch {
        // still busy (a process in D state): the next start's sweep removes it
      }
    }
  }
}
