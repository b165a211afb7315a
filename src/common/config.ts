// Where q keeps its state and how a process finds the master and its token.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ErrorCodes, QError } from './errors.js';

export const DEFAULT_PORT = 7890;

/** `-state`, else $Q_STATE, else ~/.q. */
export function stateDir(option: string | undefined): string {
  const dir = resolve(option ?? process.env.Q_STATE ?? join(homedir(), '.q'));
  let isFile = false;
  try {
    isFile = !statSync(dir).isDirectory();
  } catch {
    // not there yet: the master makes it
  }
  if (isFile) {
    // fig's q kept its state in one YAML file (-state ~/.q.state); q keeps a directory.
    throw new QError(ErrorCodes.BAD_VALUE, `-state ${dir} is a file: q keeps its state in a directory (database, token, logs), e.g. -state ~/.q`);
  }
  return dir;
}

/**
 * Where a master whose state directory is not this user's default says, by port, where its
 * state is: a client on the same machine then finds its token without -state.
 */
function masterPointer(port: number): string {
  return join(stateDir(undefined), 'masters', String(port));
}

/** Records where the master on `port` keeps its state (if not the default); returns its undo. */
export function recordMaster(port: number, dir: string): () => void {
  if (resolve(dir) === stateDir(undefined)) return () => {};
  const path = masterPointer(port);
  try {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(path, resolve(dir) + '\n', { mode: 0o600 });
  } catch {
    return () => {}; // a read-only home: clients then need -state, as the error says
  }
  return () => rmSync(path, { force: true });
}

export function tokenPath(dir: string): string {
  return join(dir, 'token');
}

/**
 * `-token`, else $Q_TOKEN, else the token file the master left in the state directory, else
 * that of the master on `port` on this machine whose state is elsewhere (recordMaster).
 */
export function findToken(option: string | undefined, dir: string, port?: number): string {
  const given = option ?? process.env.Q_TOKEN;
  if (given) return given;
  const read = (d: string) => readFileSync(tokenPath(d), 'utf8').trim();
  try {
    return read(dir);
  } catch {
    try {
      if (port !== undefined) return read(readFileSync(masterPointer(port), 'utf8').trim());
    } catch {
      // no master on that port said where it is
    }
    throw new QError(
      ErrorCodes.AUTH,
      `no token: start the master on this machine first (it writes ${tokenPath(dir)}), give -state DIR as the master was given it, or pass -token / set Q_TOKEN`,
    );
  }
}

/** The master's token: the given one, or the one on disk, or a new one written 0600. */
export function ensureToken(option: string | undefined, dir: string): string {
  const given = option ?? process.env.Q_TOKEN;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = tokenPath(dir);
  if (given) return given;
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (existing) return existing;
  } catch {
    // none yet
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(path, token + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}
