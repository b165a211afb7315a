// Where q keeps its state and how a process finds the master and its token.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ErrorCodes, QError } from './errors.js';

export const DEFAULT_PORT = 7890;

/** `-state`, else $Q_STATE, else ~/.q. */
export function stateDir(option: string | undefined): string {
  return resolve(option ?? process.env.Q_STATE ?? join(homedir(), '.q'));
}

export function tokenPath(dir: string): string {
  return join(dir, 'token');
}

/** `-token`, else $Q_TOKEN, else the token file the master left in the state directory. */
export function findToken(option: string | undefined, dir: string): string {
  const given = option ?? process.env.Q_TOKEN;
  if (given) return given;
  try {
    return readFileSync(tokenPath(dir), 'utf8').trim();
  } catch {
    throw new QError(
      ErrorCodes.AUTH,
      `no token: start the master on this machine first (it writes ${tokenPath(dir)}), or pass -token / set Q_TOKEN`,
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
