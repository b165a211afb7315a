// The host directories a container mounts, made safe from links a job planted or swaps in.
//
// The engine resolves a bind source by its path when the container starts, as root on the
// host, following links; an earlier job (or one running now in a parent directory) could
// have replaced a part of that path with a link to `/`. So each source is opened here
// through no link (beneath.ts), and, where this worker may mount (root), that very
// directory is bound onto a private path under BASE/.q/mounts, which no job can reach or
// change: the engine is given that path. Once the container has started (its mounts are
// its own by then) the private binds are undone.
//
// Without the right to mount, the sources are still checked, part by part, just before the
// container is created, and the engine is given their paths: a job that swaps a part for a
// link in the moment between can still win that race. The worker says so at start.
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, lstatSync, mkdirSync, readdirSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LinkRefused, O_PATH, openFileBeneath } from '../../files/beneath.js';

export interface Source {
  /** Beneath this trusted directory ... */
  root: string;
  /** ... this path, with no link in any part. */
  rel: string;
  /** An input: when missing, or a link itself, it is not mounted (rather than an error). */
  optional?: boolean;
}

/** Whether this process may bind-mount (root with a `mount` program). */
export function canPin(): boolean {
  return process.getuid?.() === 0;
}

/** A handle on `root/rel` itself (a directory or a file), refusing a link anywhere; null: an optional one left out. */
function openSource(src: Source): number | null {
  let fd: number;
  try {
    // O_PATH with O_NOFOLLOW opens a link itself rather than failing: checked below.
    fd = openFileBeneath(src.root, src.rel, O_PATH);
  } catch (e) {
    if (src.optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (!fstatSync(fd).isSymbolicLink()) return fd;
  closeSync(fd);
  if (src.optional) return null;
  throw new LinkRefused(`${join(src.root, src.rel)} is a link: q does not follow links in a job's paths`);
}

/**
 * Undoes the binds under `stage` and removes it, never recursively: should an unmount fail,
 * a recursive removal would delete the job's own files through the mount that is left.
 */
async function clearStage(stage: string, paths?: string[]): Promise<void> {
  let names: string[];
  try {
    names = paths ? paths.map((p) => basename(p)) : readdirSync(stage);
  } catch {
    return;
  }
  const list = names.map((n) => join(stage, n));
  if (list.length) await run('/bin/sh', ['-c', 'for p; do umount -l "$p" 2>/dev/null; done; exit 0', 'q-unpin', ...list], []).catch(() => {});
  for (const p of list) {
    try {
      if (lstatSync(p).isDirectory()) rmdirSync(p);
      else unlinkSync(p);
    } catch {
      // still mounted, or gone: left in place rather than emptied
    }
  }
  try {
    rmdirSync(stage);
  } catch {
    // not empty: see above
  }
}

function run(cmd: string, args: string[], fds: number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe', ...fds] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err.trim() || `${cmd} exited ${code}`))));
  });
}

/**
 * Undoes every private bind left under `mounts` (BASE/.q/mounts) by a worker that died
 * between pinning a container's mounts and releasing them: at start, none is in use.
 */
export async function clearStages(mounts: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(mounts);
  } catch {
    return;
  }
  for (const n of names) await clearStage(join(mounts, n));
}

export class PinnedMounts {
  private released = false;

  private constructor(
    /** What the engine is given, one per source, in order; null for an optional one left out. */
    readonly paths: (string | null)[],
    private readonly stage: string | null,
    private readonly fds: number[],
  ) {}

  /**
   * Opens every source through no link and, when `stage` is given (this worker can mount),
   * binds each onto a path inside it. Throws with the reason when a source is a link.
   */
  static async make(sources: Source[], stage: string | null): Promise<PinnedMounts> {
    const opened: (number | null)[] = [];
    try {
      for (const s of sources) opened.push(openSource(s));
    } catch (e) {
      for (const fd of opened) if (fd !== null) closeSync(fd);
      throw e;
    }
    const fds = opened.filter((fd): fd is number => fd !== null);
    if (!stage || fds.length === 0) {
      for (const fd of fds) closeSync(fd);
      return new PinnedMounts(sources.map((s, i) => (opened[i] === null ? null : join(s.root, s.rel))), null, []);
    }
    let paths: string[];
    try {
      await clearStage(stage); // left by a worker that died between pinning and releasing
      mkdirSync(stage, { recursive: true, mode: 0o700 });
      paths = fds.map((fd, i) => {
        const p = join(stage, String(i));
        if (fstatSync(fd).isDirectory()) mkdirSync(p);
        else writeFileSync(p, '');
        return p;
      });
    } catch (e) {
      for (const fd of fds) closeSync(fd);
      throw e;
    }
    // The child gets each handle as fd 3, 4, ...: /proc/self/fd/N is then that very inode,
    // as long as mount(2) is given that path itself. Without --no-canonicalize, mount(8)
    // reads the link back into a path and hands the kernel that, which a swap can redirect.
    const script = paths.map((_p, i) => `mount --no-canonicalize --bind /proc/self/fd/${3 + i} "$${i + 1}"`).join(' && ');
    try {
      await run('/bin/sh', ['-c', script, 'q-pin', ...paths], fds);
    } catch (e) {
      for (const fd of fds) closeSync(fd);
      await clearStage(stage, paths);
      throw new Error(`could not pin its mounts: ${(e as Error).message}`);
    }
    let k = 0;
    return new PinnedMounts(opened.map((fd) => (fd === null ? null : paths[k++]!)), stage, fds);
  }

  /** The container has started (or will not): the private binds go. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const fd of this.fds.splice(0)) closeSync(fd);
    if (this.stage) await clearStage(this.stage, this.paths.filter((p): p is string => p !== null));
  }
}
