// Failed logins, per remote address: each is logged (the first, then one line a window for
// the rest), and an address with too many failures in a window gets 429 for its wrong tokens
// until the window has passed (the right token still gets in). A guesser gets a handful of
// tries a minute; the log stays short however hard it tries; at most MAX_ADDRESSES are kept.
import type { Clock } from '../common/clock.js';
import type { Log } from '../common/verbosity.js';

const WINDOW_MS = 60_000;
const MAX_FAILURES = 10;
const MAX_ADDRESSES = 10_000;

interface Record {
  since: number;
  failures: number;
  logged: boolean;
}

export class AuthGuard {
  private readonly seen = new Map<string, Record>();

  constructor(
    private readonly clock: Clock,
    private readonly log: Log,
  ) {}

  private current(ip: string): Record | undefined {
    const r = this.seen.get(ip);
    if (!r || this.clock.now() - r.since <= WINDOW_MS) return r;
    if (r.failures > 1) this.log.warn(`Refused ${r.failures} attempts from ${ip} with a wrong or missing token in the last minute`);
    this.seen.delete(ip);
    return undefined;
  }

  /** Too many failures from this address lately. */
  blocked(ip: string): boolean {
    return (this.current(ip)?.failures ?? 0) >= MAX_FAILURES;
  }

  failed(ip: string, role: string): void {
    let r = this.current(ip);
    if (!r) {
      // Oldest first: a flood of new addresses cannot grow this without bound.
      for (const old of this.seen.keys()) {
        if (this.seen.size < MAX_ADDRESSES) break;
        this.seen.delete(old);
      }
      r = { since: this.clock.now(), failures: 0, logged: false };
      this.seen.set(ip, r);
    }
    r.failures++;
    if (!r.logged) {
      r.logged = true;
      this.log.warn(`Refused a ${role} from ${ip}: wrong or missing token`);
    }
    if (r.failures === MAX_FAILURES) this.log.warn(`Refusing ${ip} for up to a minute: ${MAX_FAILURES} failed attempts`);
  }
}
