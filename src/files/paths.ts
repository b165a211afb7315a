// Path rules for moving files between master and worker: outFiles globs, bounded directory
// walks, and the checks that keep a write inside the directory it is meant for.
import { lstatSync, mkdirSync, readdirSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { ManifestEntry } from '../protocol/messages.js';

/** A walk stops here: a job that makes millions of files cannot stall a pass. */
export const MAX_ENTRIES = 200_000;

/** `*` and `?` within one path part, `**` across parts, as in a shell. */
export function globToRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface OutRule {
  append: boolean;
  re: RegExp;
}

/** `full:GLOB` / `append:GLOB` entries of a job. */
export function outRules(outFiles: readonly string[]): OutRule[] {
  return outFiles.map((f) => {
    const i = f.indexOf(':');
    return { append: f.slice(0, i) === 'append', re: globToRegex(f.slice(i + 1)) };
  });
}

/**
 * The rule a path inside the outPath falls under: the first whose glob matches the path or
 * one of its parent directories (a matched directory brings everything under it).
 */
export function ruleFor(rules: readonly OutRule[], rel: string): OutRule | undefined {
  const parts = rel.split('/');
  for (let n = 1; n <= parts.length; n++) {
    const prefix = parts.slice(0, n).join('/');
    const hit = rules.find((r) => r.re.test(prefix));
    if (hit) return hit;
  }
  return undefined;
}

/** An absolute, normalised path with no `..`: safe to place under a scratch base. */
export function isCleanAbsolute(p: string): boolean {
  return p.startsWith('/') && posix.normalize(p) === p && !p.split('/').includes('..');
}

/** Whether `p` is `root` or inside it (both normalised absolute paths). */
export function isInside(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : root + '/');
}

/**
 * Makes the directories of `rel` under `root`, refusing any part that exists as something
 * other than a directory (a link could lead a write out of root). Throws with the reason.
 */
export function safeDirs(root: string, relDir: string): void {
  let at = root;
  for (const part of relDir.split('/').filter(Boolean)) {
    at = join(at, part);
    let st;
    try {
      st = lstatSync(at);
    } catch {
      mkdirSync(at);
      continue;
    }
    if (!st.isDirectory()) throw new Error(`${at} is not a directory`);
  }
}

/**
 * Every entry under `root` (itself included), as manifest entries with paths under `root`.
 * Links are entries, not followed. Throws when root cannot be read, or holds more than
 * `limit` entries (a partial list would pass for the whole).
 */
export function walk(root: string, limit = MAX_ENTRIES): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  const stack = [root];
  while (stack.length && out.length < limit) {
    const p = stack.pop()!;
    const st = lstatSync(p);
    if (st.isSymbolicLink()) out.push({ type: 'link', path: p, target: readlinkSync(p) });
    else if (st.isFile()) out.push({ type: 'file', path: p, size: st.size, mtimeMs: Math.trunc(st.mtimeMs), mode: st.mode & 0o7777 });
    else if (st.isDirectory()) {
      out.push({ type: 'dir', path: p, mode: st.mode & 0o7777 });
      let names: string[];
      try {
        names = readdirSync(p);
      } catch {
        continue; // unreadable: the directory alone
      }
      for (const name of names.sort().reverse()) stack.push(join(p, name));
    }
    // sockets, pipes, devices: not moved
  }
  if (stack.length) throw new Error(`${root} holds more than ${limit} entries`);
  return out;
}
