// Entry point of bin/q: parses the line, runs the chosen mode, and turns a user's mistake into
// one line on stderr and a non-zero exit.
import { closeSync, readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_PORT, findToken, stateDir } from '../common/config.js';
import { ErrorCodes, QError, isQError } from '../common/errors.js';
import { MAX_WALK_ENTRIES } from '../common/limits.js';
import { parseSize, parseTime } from '../common/units.js';
import { Verbosity } from '../common/verbosity.js';
import { Q_VERSION } from '../common/version.js';
import { PILOT_LIFETIME, PILOT_TIME, pilotTimeS, slurmWords } from '../client/pilots.js';
import type * as MasterModule from '../master/master.js';
import type { MasterOptions } from '../master/master.js';
import type * as WorkerModule from '../worker/worker.js';
import { importFrom } from './importHook.js';
import { parseArgs, positiveInt, type Parsed } from './parse.js';

function port(p: Parsed): number {
  const n = p.int('masterPort') ?? DEFAULT_PORT;
  if (n < 0 || n > 65535) throw new QError(ErrorCodes.BAD_VALUE, `-masterPort must be 0-65535, not ${n}`);
  return n;
}

/** The host as a URL needs it: `localhost` is the IPv4 loopback the master listens on by default; IPv6 literals get brackets. */
function urlHost(host: string): string {
  if (host === 'localhost') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** -dockerUser as uid:gid: numbers, since the worker gives the job's files to that owner. */
function dockerUser(p: Parsed): string | null {
  const v = p.str('dockerUser');
  if (v === undefined) return null;
  const m = /^(\d+)(?::(\d+))?$/.exec(v);
  if (!m) throw new QError(ErrorCodes.BAD_VALUE, `-dockerUser must be UID or UID:GID (numbers), not '${v}'`);
  return `${m[1]}:${m[2] ?? m[1]}`;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new QError(ErrorCodes.BAD_VALUE, `-tls: cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** A client's or worker's -tls CERT: the certificate to trust for wss://. */
function trustedCert(p: Parsed): Buffer | undefined {
  const v = p.list('tls');
  if (v === undefined) return undefined;
  if (v.length !== 1) throw new QError(ErrorCodes.BAD_VALUE, '-tls takes one file here: the certificate to trust');
  return readPem(v[0]!, 'certificate');
}

/** A master's -tls CERT KEY. */
function serverTls(p: Parsed): { cert: Buffer; key: Buffer } | null {
  const v = p.list('tls');
  if (v === undefined) return null;
  if (v.length !== 2) throw new QError(ErrorCodes.BAD_VALUE, '-tls takes two files for a master: CERT KEY');
  return { cert: readPem(v[0]!, 'certificate'), key: readPem(v[1]!, 'key') };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Options a worker takes that the master passes on to its -localWorker. */
function workerPassThrough(p: Parsed): string[] {
  const args: string[] = [];
  for (const name of ['basePath', 'slots', 'maxTime', 'dockerImage', 'dockerUser', 'minFreeDisk', 'verbose']) {
    const v = p.str(name);
    if (v !== undefined) args.push(`-${name}`, v);
  }
  if (p.bool('requireDocker')) args.push('-requireDocker');
  if (p.given.has('allowNetwork')) args.push('-allowNetwork', String(p.bool('allowNetwork')));
  const images = p.list('allowImages');
  if (images?.length) args.push('-allowImages', ...images);
  const tls = p.list('tls');
  if (tls?.length === 2) args.push('-tls', tls[0]!); // the local worker trusts the master's certificate
  const queues = p.list('queues');
  if (queues?.length) args.push('-queues', ...queues);
  return args;
}

function onStopSignal(fn: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(130);
    stopping = true;
    void fn().then(() => process.exit(0));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** -autoscale slurm:MAX, with what each pilot gets (-slurmArgs, -lifetime, -slots, -basePath). */
function autoscaleOptions(p: Parsed, listenHost: string): MasterOptions['autoscale'] {
  const v = p.str('autoscale');
  if (v === undefined) return undefined;
  const m = /^slurm:(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1) throw new QError(ErrorCodes.BAD_VALUE, `-autoscale takes slurm:MAX (MAX at least 1), not '${v}'`);
  const extra = slurmWords(p.str('slurmArgs'));
  const wildcard = listenHost === '*' || listenHost === '0.0.0.0';
  return {
    max: Number(m[1]),
    pilot: {
      masterHost: wildcard ? osHostname() : listenHost,
      timeS: pilotTimeS(extra, PILOT_TIME, '-autoscale'),
      lifetimeS: parseTime(p.str('lifetime') ?? PILOT_LIFETIME, '-lifetime'),
      slots: positiveInt(p, 'slots', 1),
      partition: null,
      extra,
      basePath: resolve(p.str('basePath') ?? 'scratch'),
      tls: p.list('tls')?.[0] ?? null,
    },
  };
}

// Each mode loads only its own code: a client should not pay for SQLite at every call.
async function runMaster(p: Parsed): Promise<number> {
  const { startMaster } = await importFrom<typeof MasterModule>('../master/master.js', import.meta.url);
  const host = p.str('netInterface') ?? '127.0.0.1';
  const tls = serverTls(p);
  const given = p.str('token') ?? process.env.Q_TOKEN;
  if (!LOOPBACK.test(host) && given !== undefined && given.length < 16) {
    throw new QError(ErrorCodes.BAD_VALUE, `listening on ${host} needs a token of at least 16 characters (or none: one is made)`);
  }
  const master = await startMaster({
    tls,
    stateDir: stateDir(p.str('state')),
    host: host === '*' ? '0.0.0.0' : host,
    port: port(p),
    token: p.str('token'),
    heartbeatTimeoutMs: parseTime(p.str('heartbeatTimeout') ?? '30s', '-heartbeatTimeout') * 1000,
    keepFinishedMs: p.str('keepFinished') === undefined ? null : parseTime(p.str('keepFinished')!, '-keepFinished') * 1000,
    durable: p.bool('durable'),
    verbosity: p.verbosity,
    dashboard: p.given.has('dashboard') ? p.bool('dashboard') : true,
    autoscale: autoscaleOptions(p, host),
    readOnly: p.bool('readOnly'),
    maxOutputMb: parseSize(p.str('maxOutput') ?? '10g', '-maxOutput'),
    minFreeDiskMb: parseSize(p.str('minFreeDisk') ?? '100m', '-minFreeDisk'),
    localWorkerArgs: p.bool('localWorker') ? workerPassThrough(p) : null,
  }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE') throw new QError(ErrorCodes.BAD_VALUE, `port ${port(p)} is in use: is a master already running?`);
    throw e;
  });
  onStopSignal(() => master.close());
  await master.closed;
  return 0;
}

/**
 * The worker's token, which no job may see: from the pipe a master's -localWorker hands it
 * through (Q_TOKEN_FD), else as a client finds it. It then leaves this process's environment
 * (children, slot shells included, inherit none) and its command line as `ps` shows it.
 */
function workerToken(p: Parsed): string {
  const fd = process.env.Q_TOKEN_FD;
  delete process.env.Q_TOKEN_FD;
  let token: string;
  if (fd && /^\d+$/.test(fd)) {
    token = readFileSync(Number(fd), 'utf8').trim();
    closeSync(Number(fd)); // or every job would inherit the (spent) pipe
  } else {
    token = findToken(p.str('token'), stateDir(p.str('state')), port(p));
  }
  delete process.env.Q_TOKEN;
  if (p.str('token') !== undefined) {
    process.title = process.argv.map((a) => a.split(token).join('***')).join(' ');
  }
  return token;
}

async function runWorker(p: Parsed): Promise<number> {
  const { Worker } = await importFrom<typeof WorkerModule>('../worker/worker.js', import.meta.url);
  const { defaultHandle, lockBase } = await import('../worker/identity.js');
  const hostname = p.str('hostname') ?? osHostname();
  const host = p.str('masterHost') ?? 'localhost';
  const maxTime = p.str('maxTime');
  const basePath = resolve(p.str('basePath') ?? 'scratch');
  const ca = trustedCert(p);
  const token = workerToken(p);
  const handle = p.str('handle') ?? defaultHandle(basePath, hostname);
  // Held for the life of the process (a lock that is collected is released).
  const baseLock = lockBase(basePath, handle, hostname);
  const worker = new Worker({
    url: `${ca ? 'wss' : 'ws'}://${urlHost(host)}:${port(p)}/`,
    ca,
    token,
    handle,
    hostname,
    basePath,
    slots: positiveInt(p, 'slots', 1),
    maxTime: maxTime === undefined ? null : parseTime(maxTime, '-maxTime'),
    heartbeatMs: positiveInt(p, 'sleepInterval', 5) * 1000,
    lifetimeMs: p.str('lifetime') === undefined ? null : parseTime(p.str('lifetime')!, '-lifetime') * 1000,
    walltimeMs: p.str('walltime') === undefined ? null : parseTime(p.str('walltime')!, '-walltime') * 1000,
    killGraceMs: (p.num('killGrace') ?? 5) * 1000,
    minFreeDisk: parseSize(p.str('minFreeDisk') ?? '100m', '-minFreeDisk'),
    maxOutputEntries: positiveInt(p, 'maxOutputEntries', MAX_WALK_ENTRIES),
    queues: p.list('queues') ?? [],
    docker: {
      image: p.str('dockerImage') ?? null,
      require: p.bool('requireDocker'),
      user: dockerUser(p),
      // Where process jobs run too, a container's network keeps nothing from a job: it has the
      // host's. With -requireDocker it does, so it is off unless the operator allows it.
      policy: { allowNetwork: p.given.has('allowNetwork') ? p.bool('allowNetwork') : !p.bool('requireDocker'), allowImages: p.list('allowImages') ?? null },
    },
    verbosity: p.verbosity,
  });
  if (p.verbosity >= Verbosity.NORMAL) console.log(`===== worker ${worker.handle}, basePath = ${worker.basePath}, master ${host}:${port(p)}`);
  await worker.start();
  await new Promise<void>((done) => {
    onStopSignal(async () => {
      await worker.stop();
      baseLock.release();
      done();
    });
    // Left by itself (-lifetime, -walltime), stopped: a pilot's batch job ends with it.
    void worker.left.then(() => process.exit(0));
  });
  return 0;
}

async function main(argv: string[]): Promise<number> {
  // `q help`, `q version` and `q -h` alone, as other command line tools take them (with a
  // value after it, `-h` stays fig's -hostname).
  if (argv.length === 1 && (argv[0] === 'help' || argv[0] === '-h')) argv = ['-help'];
  if (argv.length === 1 && argv[0] === 'version') argv = ['-version'];
  const p = parseArgs(argv);
  if (p.bool('version')) {
    console.log(`q ${Q_VERSION}`);
    return 0;
  }
  if (p.bool('help')) {
    console.log(await p.help());
    return 0;
  }
  if (p.mode === 'master') return runMaster(p);
  if (p.mode === 'worker') return runWorker(p);
  if (p.optionLike.length) {
    // The command stays as typed (fig read these as options): say so, once.
    process.stderr.write(
      `q: warning: ${p.optionLike.join(' ')} stayed in the command; q options go before -add (or put -- before such a word to silence this)\n`,
    );
  }
  // `q -log J | head`: a reader that has had enough is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const { runClient } = await import('../client/client.js');
  return runClient(p, () => {
    const host = p.str('masterHost') ?? 'localhost';
    return {
      host: urlHost(host),
      port: port(p),
      token: findToken(p.str('token'), stateDir(p.str('state')), port(p)),
      timeoutMs: (p.num('masterTimeout') ?? 2) * 1000,
      ca: trustedCert(p),
      ...(p.verbosity >= Verbosity.TRACE ? { trace: (line: string) => void process.stderr.write(`q: ${line}\n`) } : {}),
    };
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (isQError(e)) {
      process.stderr.write(`q: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`q: internal error: ${(e as Error)?.message ?? String(e)}\n`);
      if (process.env.Q_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
      process.exitCode = 70;
    }
  },
);
