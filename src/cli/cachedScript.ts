// Runs a bundled CommonJS file with V8's code cache, as Node 22's module.enableCompileCache
// does for modules: every `q` call is a process start, and compiling its bundle was about 20 ms
// of the ~200 ms to a -list's first row. Node 20, which q supports, has no such cache for
// modules; a vm.Script has one. What it runs imports through importHook.ts. (The
// v8-compile-cache package does the same for require() but leaves its scripts no import(),
// and keeps its cache in the shared temporary directory.)
//
// The cache lies beside the bundle, named after its length and CRC-32: V8 itself checks only
// the length of the source, and a cache of another build must never run. A run that finds
// none, or finds it rejected (another Node, other V8 flags), writes it at its exit, with
// everything that run compiled; where the folder cannot be written, it runs uncached.
import { accessSync, constants, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import vm from 'node:vm';
import { crc32 } from 'node:zlib';
import { lendImport } from './importHook.js';

/** What a run of `runCached` found: 'used' a cache, or why not. */
export type CacheUse = 'used' | 'written at exit' | 'not writable';

/** The cache file of this source of `file`. */
export function cacheFileOf(file: string, source: string): string {
  return join(dirname(file), `${basename(file)}.${source.length}-${crc32(source).toString(16)}.cache`);
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
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  });
  let use: CacheUse = 'used';
  if (!cachedData || script.cachedDataRejected) {
    use = writable(dirname(file)) ? 'written at exit' : 'not writable';
    if (use === 'written at exit') process.once('exit', () => write(cacheFile, script));
  }
  lendImport((url) => import(url));
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
  return use;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whole or not at all: two first runs at once each write their own and rename it into place. */
function write(cacheFile: string, script: vm.Script): void {
  const tmp = `${cacheFile}.${process.pid}`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true }); // a full disk: the next run compiles, as this one did
  }
}
