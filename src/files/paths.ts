// Path rules for moving files between master and worker: outFiles globs, the walk of an
// input, and the checks that keep a write inside the directory it is meant for.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import type { ManifestEntry } from '../protocol/workerMessages.js';
import { fileEntry, walkBeneath } from './beneath.js';
import { MAX_WALK_ENTRIES } from '../common/limits.js';
import { decodeName } from './byteNames.js';

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
  /** The glob's parts, each matched alone; null when `**` can match any depth. */
  parts: RegExp[] | null;
}

/** `full:GLOB` / `append:GLOB` entries of a job. */
export function outRules(outFiles: readonly string[]): OutRule[] {
  return outFiles.map((f) => {
    const i = f.indexOf(':');
    const glob = f.slice(i + 1);
    return { append: f.slice(0, i) === 'append', re: globToRegex(glob), parts: glob.includes('**') ? null : glob.split('/').map(globToRegex) };
  });
}

/**
 * Whether the directory `rel` may hold a path some rule names: it is named itself (and so
 * is everything under it), or it is a prefix of what a glob could match.
 */
export function mayHoldMatches(rules: readonly OutRule[], rel: string): boolean {
  if (ruleFor(rules, rel)) return true;
  const parts = rel.split('/');
  return rules.some((r) => r.parts === null || (r.parts.length > parts.length && parts.every((p, i) => r.parts![i]!.test(p))));
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
 * Every entry of an input: a file or link alone, a directory with everything under it
 * (walked through no link, see walkBeneath). Throws when it cannot be read.
 */
export function walkInput(p: string, limit = MAX_WALK_ENTRIES): ManifestEntry[] {
  const st = lstatSync(p);
  if (st.isSymbolicLink()) return [{ type: 'link', path: p, target: decodeName(readlinkSync(p, { encoding: 'buffer' })) }];
  if (st.isFile()) return [fileEntry(p, st)];
  if (st.isDirectory()) return walkBeneath(p, '', limit);
  return [];
}
