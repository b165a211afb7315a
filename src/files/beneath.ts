// Paths beneath a trusted directory, resolved without following a link in any component.
//
// Why: a job can create links inside the directories the worker manages for it (its working
// directory, its outPath), and the worker acts on them with more rights than the job (as
// root, or outside the job's container). A check-then-use (`lstat`, then `open` by path) is a
// race a job can win by swapping a directory for a link in between. So every component is
// opened from the directory before it, refusing links (`O_NOFOLLOW`), and the open directory
// is then used through `/proc/self/fd/N/NAME`: the kernel resolves that from the directory the
// descriptor holds, whatever has since been renamed or replaced above it. That is `openat(2)`,
// which Node lacks.
//
// The root itself (a worker's basePath, an outPath the submitter named, `/` for a shared
// working path) is trusted: links in it are the administrator's, and are followed.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManifestEntry } from '../protocol/workerMessages.js';
import { MAX_WALK_ENTRIES } from '../common/limits.js';
import { decodeName, shownName, toFsPath } from './byteNames.js';

/** open(2)'s O_PATH on Linux (x86_64, arm64): a handle for lookups, needing no read right. */
export const O_PATH = 0o10000000;
const DIR_FLAGS = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const LIST_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** The manifest entry of a regular file. */
export function fileEntry(path: string, st: Stats): ManifestEntry {
  return { type: 'file', path, size: st.size, mtimeMs: Math.trunc(st.mtimeMs), mode: st.mode & 0o7777 };
}

export class LinkRefused extends Error {
  override name = 'LinkRefused';
}

/**
 * The path of `name` inside the directory `fd` holds: as bytes when the name is bytes, or
 * holds escaped ones (byteNames.ts).
 */
export function at(fd: number, name: string | Buffer = ''): string | Buffer {
  if (Buffer.isBuffer(name)) return Buffer.concat([Buffer.from(`/proc/self/fd/${fd}/`), name]);
  return name ? toFsPath(`/proc/self/fd/${fd}/${name}`) : `/proc/self/fd/${fd}`;
}

/** The parts of a relative path, refusing `..` and `.`: nothing may climb out of the root. */
export function parts(rel: string): string[] {
  const list = rel.split('/').filter(Boolean);
  for (const p of list) if (p === '..' || p === '.') throw new Error(`${rel}: no . or .. parts allowed`);
  return list;
}

/** Why an open of `path` (one component) failed, as a clear error. */
function refusal(fd: number, name: string, shown: string, e: NodeJS.ErrnoException): Error {
  if (e.code === 'ENOTDIR' || e.code === 'ELOOP') {
    let what = 'not a directory';
    try {
      if (lstatSync(at(fd, name)).isSymbolicLink()) what = 'a link';
    } catch {
      // gone meanwhile
    }
    return new LinkRefused(`${shownName(shown)} is ${what}: q does not follow links in a job's paths`);
  }
  return e;
}

/** A directory held open; `path` is what it was called, for messages. */
export class PinnedDir {
  constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /** The path of `name` in this directory, resolved from the directory itself. */
  child(name: string): string | Buffer {
    return at(this.fd, name);
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // closed already
    }
  }
}

/**
 * Opens `root/rel`, refusing a link or non-directory in any part of `rel`; with `create`,
 * makes missing parts (mode 0755, or `mode`). The caller closes it.
 */
export function openDirBeneath(root: string, rel: string, opts: { create?: boolean; mode?: number } = {}): PinnedDir {
  let dir = new PinnedDir(openSync(root, O_PATH | constants.O_DIRECTORY), root);
  try {
    for (const name of parts(rel)) {
      const next = openChild(dir, name, opts);
      dir.close();
      dir = next;
    }
  } catch (e) {
    dir.close();
    throw e;
  }
  return dir;
}

/** One step of openDirBeneath: the directory `name` inside `dir`, never through a link. */
export function openChild(dir: PinnedDir, name: string, opts: { create?: boolean; mode?: number } = {}): PinnedDir {
  const shown = join(dir.path, name);
  try {
    return new PinnedDir(openSync(dir.child(name), DIR_FLAGS), shown);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'ENOENT' || !opts.create) throw refusal(dir.fd, name, shown, err);
  }
  try {
    mkdirSync(dir.child(name), opts.mode ?? 0o755);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  try {
    return new PinnedDir(openSync(dir.child(name), DIR_FLAGS), shown);
  } catch (e) {
    throw refusal(dir.fd, name, shown, e as NodeJS.ErrnoException);
  }
}

/**
 * Directories beneath one root, opened as a chain that is reused from one call to the next:
 * for paths that come in walk order (a manifest), each directory is opened once.
 */
export class DirChain {
  private readonly chain: { name: string; dir: PinnedDir }[] = [];
  private rootDir: PinnedDir | null = null;

  constructor(
    private readonly root: string,
    private readonly opts: { create?: boolean } = {},
  ) {}

  /** `root/rel`, held by the chain (do not close it). */
  dir(rel: string): PinnedDir {
    this.rootDir ??= new PinnedDir(openSync(this.root, O_PATH | constants.O_DIRECTORY), this.root);
    const want = parts(rel);
    let keep = 0;
    while (keep < this.chain.length && keep < want.length && this.chain[keep]!.name === want[keep]) keep++;
    for (const link of this.chain.splice(keep)) link.dir.close();
    for (let i = keep; i < want.length; i++) {
      const parent = i === 0 ? this.rootDir : this.chain[i - 1]!.dir;
      this.chain.push({ name: want[i]!, dir: openChild(parent, want[i]!, this.opts) });
    }
    return want.length ? this.chain[want.length - 1]!.dir : this.rootDir;
  }

  close(): void {
    for (const link of this.chain.splice(0)) link.dir.close();
    this.rootDir?.close();
    this.rootDir = null;
  }
}

/** Splits `rel` into its directory and last part. */
export function splitLast(rel: string): { dir: string; name: string } {
  const list = parts(rel);
  const name = list.pop();
  if (!name) throw new Error(`${rel}: no file name`);
  return { dir: list.join('/'), name };
}

/**
 * Opens the file `root/rel` with `flags` (O_NOFOLLOW is added: the last part may not be a
 * link either). Throws when any part is a link.
 */
export function openFileBeneath(root: string, rel: string, flags: number, mode = 0o644): number {
  const { dir, name } = splitLast(rel);
  const d = openDirBeneath(root, dir);
  try {
    return openSync(d.child(name), flags | constants.O_NOFOLLOW, mode);
  } finally {
    d.close();
  }
}

/** Opens a regular file for reading, never blocking on a pipe put in its place; null if it is not one. */
export function openRegularBeneath(root: string, rel: string): number | null {
  const fd = openFileBeneath(root, rel, constants.O_RDONLY | constants.O_NONBLOCK);
  if (fstatSync(fd).isFile()) return fd;
  closeSync(fd);
  return null;
}

/** A walk that cannot read an entry says which, rather than leave it out. */
function unwalkable(path: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  return new Error(`${shownName(path)} could not be read (${err.code ?? err.message})`);
}

/**
 * Every entry under `root/rel` (itself included), with paths as `root/rel/...`. Links are
 * entries, never followed, and each directory is listed through its own descriptor, so a
 * directory swapped for a link during the walk lists nothing from outside. Depth first, one
 * descriptor per level: a tree of many directories cannot use up the process's descriptors.
 * Throws when the start cannot be opened, an entry cannot be read (only one proved gone is
 * left out) or it holds more than `limit` entries: a partial list would pass for the whole.
 * With `descend`, a directory (its path relative to the start) for which it says false is
 * left out, with everything under it.
 */
export function walkBeneath(root: string, rel: string, limit = MAX_WALK_ENTRIES, descend?: (rel: string) => boolean): ManifestEntry[] {
  const start = openDirBeneath(root, rel);
  const top = rel ? join(root, rel) : root;
  const out: ManifestEntry[] = [];
  let topFd: number;
  try {
    topFd = openSync(start.child('.'), LIST_FLAGS);
  } finally {
    start.close();
  }
  const visit = (fd: number, path: string): void => {
    let names: string[];
    try {
      // As bytes: a name that is not UTF-8 read as a string names nothing (byteNames.ts).
      names = readdirSync(at(fd), { encoding: 'buffer' }).map(decodeName);
    } catch (e) {
      throw unwalkable(path, e); // what it holds would be missing, unsaid
    }
    for (const name of names.sort()) {
      if (out.length >= limit) throw new Error(`${top} holds more than ${limit} entries`);
      const p = join(path, name);
      let st;
      try {
        st = lstatSync(at(fd, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // gone meanwhile
        throw unwalkable(p, e);
      }
      if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = decodeName(readlinkSync(at(fd, name), { encoding: 'buffer' }));
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'EINVAL') continue; // gone, or no longer a link
          throw unwalkable(p, e);
        }
        out.push({ type: 'link', path: p, target });
      } else if (st.isFile()) {
        out.push(fileEntry(p, st));
      } else if (st.isDirectory()) {
        if (descend && !descend(p.slice(top.length + 1))) continue;
        let sub: number;
        try {
          sub = openSync(at(fd, name), LIST_FLAGS);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // gone, or swapped for a link or a file since the lstat: no directory to copy
          if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') continue;
          throw unwalkable(p, e);
        }
        try {
          out.push({ type: 'dir', path: p, mode: fstatSync(sub).mode & 0o7777 });
          visit(sub, p);
        } finally {
          closeSync(sub);
        }
      }
      // sockets, pipes, devices: not moved
    }
  };
  try {
    out.push({ type: 'dir', path: top, mode: fstatSync(topFd).mode & 0o7777 });
    visit(topFd, top);
  } finally {
    closeSync(topFd);
  }
  return out;
}

/**
 * Size of the tree at `root/rel` in MB, for the disk limit: blocks used, and for a regular
 * file what a copy of it would write (its apparent size, when larger). Walked as
 * walkBeneath does (depth first, one descriptor per level) but without blocking the event
 * loop. Bounded by `maxEntries`, directories counted. A start that does not exist (yet)
 * counts 0.
 */
export async function diskUsageBeneath(root: string, rel: string, maxEntries = MAX_WALK_ENTRIES): Promise<number> {
  let fd: number;
  try {
    const start = openDirBeneath(root, rel);
    try {
      fd = openSync(start.child('.'), LIST_FLAGS);
    } finally {
      start.close();
    }
  } catch {
    return 0;
  }
  let bytes = 0;
  let entries = 0;
  // Names as bytes: a name that is not UTF-8 (`\377`) read as a string names nothing, and
  // what it held went uncounted.
  const visit = async (dirFd: number): Promise<void> => {
    entries++;
    bytes += fstatSync(dirFd).blocks * 512;
    let names: Buffer[];
    try {
      names = await readdir(at(dirFd), { encoding: 'buffer' });
    } catch {
      return;
    }
    for (const name of names) {
      if (entries >= maxEntries) return;
      let st;
      try {
        st = await lstat(at(dirFd, name));
      } catch {
        continue; // gone meanwhile
      }
      if (!st.isDirectory()) {
        // What copying it would write, not the blocks it holds here: a sparse file of 2 GB
        // takes none, and would have been 2 GB on the master's disk.
        bytes += st.isFile() ? Math.max(st.blocks * 512, st.size) : st.blocks * 512;
        entries++;
        continue;
      }
      let sub: number;
      try {
        sub = openSync(at(dirFd, name), LIST_FLAGS);
      } catch {
        continue; // swapped for a link, or unreadable
      }
      try {
        await visit(sub);
      } finally {
        closeSync(sub);
      }
    }
  };
  try {
    await visit(fd);
  } finally {
    closeSync(fd);
  }
  return bytes / 1048576;
}
