// Runs a bundled CommonJS file with V8's code cache, as Node 22's module.enableCompileCache
// does for modules: every `q` call is a process start, and compiling its bundle was about 20 ms
// of the ~200 ms to a -list's first row. Node 20, which q supports, has no such cache for
// modules; a vm.Script has one. What it runs imports through importHook.ts. (The
// v8-compile-cache package does the same for require() but leaves its scripts no import(),
// and keeps its cache in the shared temporary directory.)
//
// The cache lies beside the bundle, or where that folder cannot be written (an install only
// root may write) in the user's own cache folder, $XDG_CACHE_HOME/q or ~/.cache/q: never in a
// folder others may write, since what it holds runs as code. It is named after the bundle's
// SHA-256, since V8 itself checks only the length of the source and a cache of another build
// must never run (node:crypto, which the client loads anyway: zlib's CRC-32 and v8's version
// tag cost 15 ms of loading), and after Node's version, so that two Nodes sharing an install
// (NFS) keep a cache each rather than reject each other's at every call. A run that finds
// none, or finds it rejected (other V8 flags), writes it at its exit, with everything that run
// compiled; one ended by a signal writes nothing.
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import vm from 'node:vm';
import { lendImport } from './importHook.js';

/** How `runCached` ran its file: from the cache, or compiled (its cache written at exit). */
export interface CacheUse {
  use: 'from cache' | 'compiled';
  cacheFile: string;
}

/** The folder of `file`'s cache: its own where it may be written, else the user's cache folder. */
function cacheDir(file: string): string {
  try {
    accessSync(dirname(file), constants.W_OK);
    return dirname(file);
  } catch {
    return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'q');
  }
}

/** The cache file of this source of `file`. */
function cacheFileOf(file: string, source: string): string {
  const sha = createHash('sha256').update(source).digest('hex').slice(0, 32);
  return join(cacheDir(file), `${basename(file)}.${sha}-node-${process.version}.cache`);
}

/** Runs `file` (CommonJS) as Node would require it, from its code cache where one is good. */
export function runCached(file: string): CacheUse {
  const source = readFileSync(file, 'utf8');
  const cacheFile = cacheFileOf(file, source);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // none yet
  }
  // Strict, as the modules it was bundled from were (esbuild's "use strict" comes after its
  // banner, where it is no directive). No displayErrors: its context is a minified line.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {'use strict';${source}\n})`, {
    filename: file,
    cachedData,
  });
  const use = cachedData && !script.cachedDataRejected ? 'from cache' : 'compiled';
  if (use === 'compiled') process.once('exit', () => write(cacheFile, script));
  lendImport((url) => import(url));
  const module = { exports: {} };
  (script.runInThisContext({ displayErrors: false }) as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
  return { use, cacheFile };
}

/**
 * Whole or not at all: two first runs at once each write their own and rename it into place.
 * A full disk, or a home that cannot be written: the next run compiles, as this one did.
 */
function write(cacheFile: string, script: vm.Script): void {
  const tmp = `${cacheFile}.${process.pid}`;
  try {
    mkdirSync(dirname(cacheFile), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true });
  }
}
