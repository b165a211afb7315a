// Connections that have not yet said who they are. A socket holds one of the master's file
// descriptors from the moment it is accepted; one that never sends a request would hold it
// until the kernel gave up, and a few thousand of them left none for workers and clients
// (`-list` failed with "is q -mode master running?", a second worker never connected).
//
// So until its request's headers have arrived (the token is checked on them at once), a
// connection is pending, and pending connections are bounded: at most PER_ADDRESS from one
// address and a total of a quarter of the descriptors the master may open (at most MAX_TOTAL),
// each for at most PENDING_MS. Past the total the oldest pending connection goes, not the new
// one: a real client sends its headers within a millisecond of connecting, so a flood cannot
// keep it out unless it opens the whole total in that millisecond. The per-address bound holds
// once half the total is taken (the oldest of that address goes): until then a burst from one
// address, such as 200 workers behind one NAT reconnecting at once, all get in. What goes is
// told `503` (plain HTTP, before any TLS), which the client reports as the master turning it
// away for load.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/verbosity.js';

/** How long a connection may take to send its request. */
export const PENDING_MS = 5_000;
/** Pending connections from one address. */
export const PER_ADDRESS = 64;
/** Pending connections in all, at most. */
const MAX_TOTAL = 1024;
/** Told to a connection that goes for load. */
export const TURNED_AWAY = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\nX-Q-Reason: load\r\n\r\n';
/** One warning per this long, however many go. */
const WARN_EVERY_MS = 60_000;

/** The soft limit on this process's open files, from /proc (Node has no getrlimit). */
export function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface Pending {
  socket: Socket;
  address: string;
  timer: NodeJS.Timeout;
}

export class ConnectionGate {
  /** By `address:port`, oldest first. */
  private readonly pending = new Map<string, Pending>();
  private readonly byAddress = new Map<string, Set<string>>();
  readonly maxTotal: number;
  private turnedAway = 0;
  private lastWarn = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly opts: { perAddress?: number; maxTotal?: number; pendingMs?: number; plain?: boolean } = {},
  ) {
    const limit = openFileLimit();
    this.maxTotal = opts.maxTotal ?? Math.max(16, Math.min(MAX_TOTAL, limit === null ? MAX_TOTAL : Math.floor(limit / 4)));
  }

  /** A connection was accepted (the server's `connection` event). */
  admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '?';
    const key = `${address}:${socket.remotePort ?? '?'}`;
    const mine = this.byAddress.get(address) ?? new Set<string>();
    const pressed = this.pending.size >= this.maxTotal / 2;
    if (pressed && mine.size >= (this.opts.perAddress ?? PER_ADDRESS)) this.turnAway(mine.values().next().value!);
    if (this.pending.size >= this.maxTotal) this.turnAway(this.pending.keys().next().value!);
    const timer = setTimeout(() => this.turnAway(key), this.opts.pendingMs ?? PENDING_MS);
    timer.unref();
    this.pending.set(key, { socket, address, timer });
    mine.add(key);
    this.byAddress.set(address, mine);
    socket.once('close', () => this.forget(key));
  }

  /** Its request arrived (a `request` or `upgrade` event; for TLS, of the TLS socket, same address and port). */
  settled(socket: Pick<Socket, 'remoteAddress' | 'remotePort'>): void {
    this.forget(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
  }

  private forget(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(key);
    const mine = this.byAddress.get(p.address);
    mine?.delete(key);
    if (mine?.size === 0) this.byAddress.delete(p.address);
  }

  private turnAway(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.forget(key);
    this.turnedAwayNow(p.socket, p.address);
  }

  private turnedAwayNow(socket: Socket, address: string): void {
    this.turnedAway++;
    // Plain HTTP can be answered; a TLS connection that has not finished its handshake cannot.
    if (this.opts.plain !== false && socket.writable) socket.end(TURNED_AWAY);
    socket.destroySoon();
    setTimeout(() => socket.destroy(), 1000).unref();
    const now = this.clock.now();
    if (now - this.lastWarn >= WARN_EVERY_MS) {
      this.lastWarn = now;
      this.log.warn(`Turned away ${this.turnedAway} connection(s) that sent no request in time or came past ${this.maxTotal} waiting (latest from ${address})`);
      this.turnedAway = 0;
    }
  }

  /** Connections waiting for their request now. */
  get size(): number {
    return this.pending.size;
  }
}
