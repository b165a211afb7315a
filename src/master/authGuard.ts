// Failed logins, per remote address: each is logged (the first, then one line a window for
// the rest), and an address with too many failures in a window is refused without a look at
// its token until the window has passed. A guesser gets a handful of tries a minute; the log
// stays short however hard it tries.
import type { Clock } from '../common/clock.js';

const WINDOW_MS = 60_000;
const MAX_FAILURES = 10;

interface Record {
  since: number;
  failures: number;
  logged: boolean;
}

export class AuthGuard {
  private readonly seen = new Map<string, Record>();

  constructor(
    private readonly clock: Clock,
    private readonly log: (line: string) => void,
  ) {}

  private record(ip: string): Record {
    const now = this.clock.now();
    let r = this.seen.get(ip);
    if (!r || now - r.since > WINDOW_MS) {
      if (r?.failures && r.failures > 1) this.log(`Refused ${r.failures} attempts from ${ip} with a wrong or missing token in the last minute`);
      r = { since: now, failures: 0, logged: false };
      if (this.seen.size > 10_000) this.prune(now);
      this.seen.set(ip, r);
    }
    return r;
  }

  private prune(now: number): void {
    for (const [ip, r] of this.seen) if (now - r.since > WINDOW_MS) this.seen.delete(ip);
  }

  /** Too many failures from this address lately: refuse before checking anything. */
  blocked(ip: string): boolean {
    return this.record(ip).failures >= MAX_FAILURES;
  }

  failed(ip: string, role: string): void {
    const r = this.record(ip);
    r.failures++;
    if (!r.logged) {
      r.logged = true;
      this.log(`Refused a ${role} from ${ip}: wrong or missing token`);
    }
    if (r.failures === MAX_FAILURES) this.log(`Refusing ${ip} for up to a minute: ${MAX_FAILURES} failed attempts`);
  }
}
