// Builds the jobs `-add` submits: defaults, then the job.spec YAML file, then the command line.
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { ErrorCodes, QError } from '../common/errors.js';
import { MAX_MEM_GRACE } from '../common/limits.js';
import { MAX_LOG_LIMIT_MB } from '../common/logLimit.js';
import { MAX_RETRY, MAX_RETRY_DELAY_S } from '../common/limits.js';
import { parseSize, parseTime } from '../common/units.js';
import { JOB_SPEC_DEFAULTS, type JobSpec } from '../protocol/jobSpec.js';
import type * as Yaml from 'yaml';

const DEFAULTS = JOB_SPEC_DEFAULTS;

/** What the command line says about a job; undefined = not given. */
export interface JobOptions {
  priority?: number;
  time?: string;
  mem?: string;
  memGrace?: number;
  disk?: string;
  logLimit?: string;
  tags?: string[];
  workerHandle?: string;
  inPaths?: string[];
  realtimeInPaths?: string[];
  outPath?: string;
  outFiles?: string[];
  shareWorkingPath?: boolean;
  specPath?: string;
  doneHook?: string;
  failedHook?: string;
  docker?: string;
  cpus?: number;
  gpus?: number;
  network?: boolean;
  queue?: string;
  cidFile?: string;
  retries?: number;
  retry?: number;
  retryDelay?: string;
  /** -pretend: compute everything, create nothing. */
  pretend: boolean;
}

/** The job.spec fields, under q's names and the old q's names. */
const SPEC_KEYS: Record<string, string> = {
  priority: 'priority',
  time: 'time',
  limitTime: 'time',
  mem: 'mem',
  limitMem: 'mem',
  memGrace: 'memGrace',
  limitMemGrace: 'memGrace',
  disk: 'disk',
  limitDisk: 'disk',
  logLimit: 'logLimit',
  tags: 'tags',
  workerHandle: 'workerHandle',
  inPaths: 'inPaths',
  realtimeInPaths: 'realtimeInPaths',
  outPath: 'outPath',
  outPoolPath: 'outPoolPath',
  outFiles: 'outFiles',
  doneHook: 'doneHook',
  failedHook: 'failedHook',
  shareWorkingPath: 'shareWorkingPath',
  dockerImage: 'dockerImage',
  cpus: 'cpus',
  gpus: 'gpus',
  network: 'network',
  queue: 'queue',
  cidFile: 'cidFile',
  retries: 'retries',
  retry: 'retry',
  retryDelay: 'retryDelay',
};

type SpecFile = Partial<Record<string, unknown>>;

/**
 * Fields a spec file found by default (job.spec in the working directory) may not set: each
 * makes something outside the job run a command, names files to copy in or write out (the
 * token as an input, ~/.bashrc as an output), or gives the job more than its submitter chose;
 * and a job that shares its working directory can write that file.
 */
const NOT_BY_DEFAULT = [
  'doneHook', 'failedHook', 'dockerImage', 'network', 'inPaths', 'realtimeInPaths', 'outPath', 'outPoolPath', 'outFiles',
  'shareWorkingPath', 'cidFile',
] as const;

/**
 * A path with its links resolved, as far as it exists. A worker sharing the submitter's file
 * system follows no link in a job's paths (docs/security.md), so they go as the real ones.
 */
function physical(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const parent = dirname(p);
    return parent === p ? p : join(physical(parent), basename(p));
  }
}

export function readSpecFile(path: string, explicit: boolean): SpecFile {
  if (!existsSync(path)) {
    if (explicit) throw new QError(ErrorCodes.BAD_SPEC_FILE, `spec file ${path} does not exist`);
    return {};
  }
  let doc: unknown;
  try {
    // Loaded only when a spec file exists: most adds have none.
    const { parse: parseYaml } = createRequire(import.meta.url)('yaml') as typeof Yaml;
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new QError(ErrorCodes.BAD_SPEC_FILE, `${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new QError(ErrorCodes.BAD_SPEC_FILE, `${path}: expected a map of job fields`);
  }
  const out: SpecFile = {};
  for (const [key, value] of Object.entries(doc)) {
    const field = SPEC_KEYS[key];
    if (!field) {
      throw new QError(ErrorCodes.BAD_SPEC_FILE, `${path}: unknown field '${key}' (known: ${Object.keys(SPEC_KEYS).join(', ')})`);
    }
    if (!explicit && (NOT_BY_DEFAULT as readonly string[]).includes(field)) {
      throw new QError(
        ErrorCodes.BAD_SPEC_FILE,
        `${path} sets ${key}, which a job.spec found by default may not (no hooks, images, networks or paths: a job could have written it): use it with -specPath ${path}`,
      );
    }
    out[field] = value;
  }
  return out;
}

function strList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) return value.map(String);
  throw new QError(ErrorCodes.BAD_SPEC_FILE, `${what} must be a list of strings`);
}

function optStr(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  throw new QError(ErrorCodes.BAD_SPEC_FILE, `${what} must be a string`);
}

function num(value: unknown, what: string, integer: boolean): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new QError(ErrorCodes.BAD_VALUE, `${what} must be ${integer ? 'an integer' : 'a number'}, not '${String(value)}'`);
  }
  return n;
}

/** The first `N.exec` not yet in the pool directory. */
function nextPoolPath(pool: string, taken: Set<string>): string {
  const dir = resolve(pool);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new QError(ErrorCodes.BAD_VALUE, `outPoolPath ${dir} is not a directory`);
  }
  const present = new Set(readdirSync(dir));
  for (let n = 0; ; n++) {
    const name = `${n}.exec`;
    const path = join(dir, name);
    if (!present.has(name) && !taken.has(path)) return path;
  }
}

/** Relative paths named in the command (pieces split on `:` too) that exist here. */
function implicitInPaths(command: string, cwd: string): string[] {
  const found: string[] = [];
  for (const arg of command.split(/\s+/)) {
    for (const piece of arg.split(':')) {
      if (!piece || isAbsolute(piece) || piece.startsWith('-')) continue;
      const abs = resolve(cwd, piece);
      if (!found.includes(abs) && existsSync(abs)) found.push(abs);
    }
  }
  return found;
}

export interface BuiltJobs {
  jobs: JobSpec[];
  /** The spec file read because it was there (not named with -specPath), or null. */
  defaultSpec: string | null;
  /** Out paths created from outPoolPath, which the old q printed. */
  poolPaths: string[];
}

/** One JobSpec per command × numTimes. */
export function buildJobs(commands: readonly string[], numTimes: number, o: JobOptions, cwd: string): BuiltJobs {
  const specPath = resolve(cwd, o.specPath ?? 'job.spec');
  const file = readSpecFile(specPath, o.specPath !== undefined);
  const priority = o.priority ?? (file.priority !== undefined ? num(file.priority, 'priority', true) : DEFAULTS.priority);
  const time = o.time !== undefined ? parseTime(o.time, '-time') : file.time !== undefined ? parseTime(file.time as string, 'time') : DEFAULTS.time;
  const mem = o.mem !== undefined ? parseSize(o.mem, '-mem') : file.mem !== undefined ? parseSize(file.mem as string, 'mem') : DEFAULTS.mem;
  const memGrace = o.memGrace ?? (file.memGrace !== undefined ? num(file.memGrace, 'memGrace', false) : DEFAULTS.memGrace);
  if (!(memGrace > 0 && memGrace <= MAX_MEM_GRACE)) {
    throw new QError(ErrorCodes.BAD_VALUE, `memGrace must be more than 0 and at most ${MAX_MEM_GRACE}, not ${memGrace}`);
  }
  const disk = o.disk !== undefined ? parseSize(o.disk, '-disk') : file.disk !== undefined ? parseSize(file.disk as string, 'disk') : DEFAULTS.disk;
  const logLimit =
    o.logLimit !== undefined ? parseSize(o.logLimit, '-logLimit') : file.logLimit !== undefined ? parseSize(file.logLimit as string, 'logLimit') : DEFAULTS.logLimit;
  if (logLimit > MAX_LOG_LIMIT_MB) throw new QError(ErrorCodes.BAD_VALUE, `logLimit may be at most ${MAX_LOG_LIMIT_MB / 1024 / 1024}t, not ${String(o.logLimit ?? file.logLimit)}`);
  const tags = o.tags ?? strList(file.tags, 'tags');
  const workerHandle = o.workerHandle ?? optStr(file.workerHandle, 'workerHandle') ?? null;
  if (workerHandle !== null && workerHandle.trim() === '') throw new QError(ErrorCodes.BAD_VALUE, '-workerHandle needs a worker handle (q -w lists them)');
  const share = o.shareWorkingPath ?? file.shareWorkingPath === true;
  const inPaths = (o.inPaths ?? strList(file.inPaths, 'inPaths')).map((p) => resolve(cwd, p));
  for (const p of inPaths) {
    if (!existsSync(p)) throw new QError(ErrorCodes.BAD_VALUE, `inPath ${p} does not exist`);
  }
  const realtimeInPaths = (o.realtimeInPaths ?? strList(file.realtimeInPaths, 'realtimeInPaths')).map((p) => resolve(cwd, p));
  const outFiles = o.outFiles ?? strList(file.outFiles, 'outFiles');
  for (const f of outFiles) {
    if (!/^(full|append):.+$/.test(f)) {
      throw new QError(ErrorCodes.BAD_VALUE, `outFiles entry '${f}' must be full:GLOB or append:GLOB`);
    }
  }
  const fixedOut = o.outPath ?? optStr(file.outPath, 'outPath');
  const pool = o.outPath === undefined ? optStr(file.outPoolPath, 'outPoolPath') : undefined;
  if (outFiles.length && fixedOut === undefined && pool === undefined) {
    throw new QError(ErrorCodes.BAD_VALUE, '-outFiles needs -outPath (or outPoolPath in the spec file)');
  }
  const dockerImage = o.docker ?? optStr(file.dockerImage, 'dockerImage') ?? null;
  if (dockerImage !== null && !/^[\w][\w.\-/:@]{0,511}$/.test(dockerImage)) {
    throw new QError(ErrorCodes.BAD_VALUE, `'${dockerImage}' is not a Docker image name`);
  }
  const cpus = o.cpus ?? (file.cpus !== undefined ? num(file.cpus, 'cpus', false) : null);
  if (cpus !== null && !(cpus > 0)) throw new QError(ErrorCodes.BAD_VALUE, `cpus must be positive, not ${cpus}`);
  const gpus = o.gpus ?? (file.gpus !== undefined ? num(file.gpus, 'gpus', true) : DEFAULTS.gpus);
  if (gpus < 0) throw new QError(ErrorCodes.BAD_VALUE, `gpus must be 0 or more, not ${gpus}`);
  const network = o.network ?? file.network === true;
  const queue = o.queue ?? optStr(file.queue, 'queue') ?? null;
  const cidFileGiven = o.cidFile ?? optStr(file.cidFile, 'cidFile');
  const cidFile = cidFileGiven === undefined ? null : share ? physical(resolve(cwd, cidFileGiven)) : resolve(cwd, cidFileGiven);
  const retries = o.retries ?? (file.retries !== undefined ? num(file.retries, 'retries', true) : DEFAULTS.retries);
  if (retries < 0) throw new QError(ErrorCodes.BAD_VALUE, `retries must be 0 or more, not ${retries}`);
  const retry = o.retry ?? (file.retry !== undefined ? num(file.retry, 'retry', true) : DEFAULTS.retry);
  if (!(retry >= 0 && retry <= MAX_RETRY)) throw new QError(ErrorCodes.BAD_VALUE, `retry must be from 0 to ${MAX_RETRY}, not ${retry}`);
  const retryDelay =
    o.retryDelay !== undefined ? parseTime(o.retryDelay, '-retryDelay') : file.retryDelay !== undefined ? parseTime(file.retryDelay as string, 'retryDelay') : DEFAULTS.retryDelay;
  if (!(retryDelay > 0 && retryDelay <= MAX_RETRY_DELAY_S)) throw new QError(ErrorCodes.BAD_VALUE, `retryDelay must be more than 0 and at most 1h`);
  const doneHook = o.doneHook ?? optStr(file.doneHook, 'doneHook') ?? null;
  const failedHook = o.failedHook ?? optStr(file.failedHook, 'failedHook') ?? null;

  const jobs: JobSpec[] = [];
  const total = commands.length * numTimes;
  const poolPaths: string[] = [];
  const taken = new Set<string>();
  for (const command of commands) {
    for (let i = 0; i < numTimes; i++) {
      let outPath: string | null = fixedOut !== undefined ? resolve(cwd, fixedOut) : null;
      if (pool !== undefined) {
        outPath = nextPoolPath(pool, taken);
        taken.add(outPath);
        poolPaths.push(outPath);
      }
      // As fig's q did: a missing outPath is made, so that what comes back has a place.
      if (outPath && !o.pretend) mkdirSync(outPath, { recursive: true });
      if (outPath && share) outPath = physical(outPath);
      const sub = (s: string) => (outPath ? s.split('_OUTPATH_').join(outPath) : s);
      const cmd = sub(command);
      const implicit = share ? [] : implicitInPaths(cmd, cwd).filter((p) => !inPaths.includes(p));
      jobs.push({
        command: cmd,
        priority,
        time,
        mem,
        memGrace,
        disk,
        tags,
        workerHandle,
        workingPath: share ? physical(cwd) : cwd,
        shareWorkingPath: share,
        inPaths: [...inPaths, ...implicit],
        realtimeInPaths,
        outPath,
        outFiles,
        doneHook: doneHook && sub(doneHook),
        failedHook: failedHook && sub(failedHook),
        dockerImage,
        cpus,
        gpus,
        network,
        queue,
        cidFile,
        retries,
        logLimit,
        retry,
        retryDelay,
        // Jobs added together know their place among them (Q_INDEX, Q_COUNT); one alone does not.
        arrayIndex: total > 1 ? jobs.length : null,
        arrayCount: total > 1 ? total : null,
        array: null,
        after: [], // the master fills these in from -after/-afterAny's SPECs
        afterAny: [],
      });
    }
  }
  return { jobs, poolPaths, defaultSpec: o.specPath === undefined && existsSync(specPath) ? specPath : null };
}
