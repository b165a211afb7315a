// Who gets in, over WebSocket or HTTP: a client or worker with the token (a bearer header), or
// a browser with a dashboard session. A session starts from a one-time login code that only
// a holder of the token can ask for (q -dashboard); the code travels in the URL's fragment,
// which a browser never sends (so no server or proxy logs it), and the login page removes it
// from the address bar and history before it posts it. The session is an HttpOnly,
// SameSite=Strict cookie, and every request that can change anything must also come from the
// dashboard's own origin: a page elsewhere can neither read the session nor act with it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../../common/clock.js';

export const SESSION_COOKIE = 'q_session';
const CODE_TTL_MS = 5 * 60_000;
const SESSION_TTL_MS = 24 * 3600_000;
/** Sessions and codes kept at most: a flood of logins cannot grow the master's memory. */
const MAX_KEPT = 1000;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** How a code or session id is kept: its hash, so that what leaks from memory is not usable. */
const keyOf = (secret: string): string => digest(secret).toString('hex');

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function bearer(req: IncomingMessage): string {
  const h = req.headers.authorization ?? '';
  return h.startsWith('Bearer ') ? h.slice(7) : '';
}

/** Whether the request says it comes from a page of this master (Origin is this host). */
export function sameOrigin(req: IncomingMessage, secure: boolean): boolean {
  const origin = req.headers.origin;
  return origin !== undefined && req.headers.host !== undefined && origin === `${secure ? 'https' : 'http'}://${req.headers.host}`;
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

export class DashboardAccess {
  /** keyOf(code or session id) → when it expires. */
  private readonly codes = new Map<string, number>();
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    /** -readOnly: sessions may look, not act. */
    readonly readOnly: boolean,
    private readonly secure: boolean,
  ) {}

  /** A one-time code, good for CODE_TTL_MS. */
  mintCode(): { code: string; expiresInS: number } {
    const code = randomBytes(24).toString('base64url');
    this.keep(this.codes, code, CODE_TTL_MS);
    return { code, expiresInS: CODE_TTL_MS / 1000 };
  }

  /** Spends a code; the Set-Cookie header of the session it opens, or null. */
  redeem(code: string): string | null {
    const key = keyOf(code);
    const until = this.codes.get(key);
    this.codes.delete(key);
    if (until === undefined || until < this.clock.now()) return null;
    const session = randomBytes(24).toString('base64url');
    this.keep(this.sessions, session, SESSION_TTL_MS);
    return `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/${this.secure ? '; Secure' : ''}`;
  }

  /** Whether the request carries a live session. */
  hasSession(req: IncomingMessage): boolean {
    const session = cookieValue(req, SESSION_COOKIE);
    if (!session) return false;
    const until = this.sessions.get(keyOf(session));
    return until !== undefined && until >= this.clock.now();
  }

  /** Ends the request's session. */
  logout(req: IncomingMessage): void {
    const session = cookieValue(req, SESSION_COOKIE);
    if (session) this.sessions.delete(keyOf(session));
  }

  /** Whether the request comes from a page of this master. */
  sameOrigin(req: IncomingMessage): boolean {
    return sameOrigin(req, this.secure);
  }

  /** A session, and from the dashboard's own origin: what opening the page's socket needs. */
  mayConnect(req: IncomingMessage): boolean {
    return this.hasSession(req) && this.sameOrigin(req);
  }

  private keep(map: Map<string, number>, secret: string, ttl: number): void {
    const now = this.clock.now();
    for (const [k, until] of map) if (until < now) map.delete(k);
    while (map.size >= MAX_KEPT) map.delete(map.keys().next().value!);
    map.set(keyOf(secret), now + ttl);
  }
}
