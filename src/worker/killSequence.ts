// How every run of a job is ended, whatever it runs in: TERM once, then KILL after the grace
// period. The first reason given is the one reported, and a kill is recorded on disk as it
// begins, so a worker restarted during the grace period carries it on (resume) instead of
// losing the reason and the KILL. What TERM and KILL mean is the run's: a slot shell's group,
// a cgroup, or a container.
import type { Clock } from '../common/clock.js';

export interface Signaller {
  /** TERM to the job, once (a run that cannot reach its processes yet sends it when it can). */
  term(): void;
  /** KILL to the job; false when it cannot be sent yet (a container not running yet). */
  kill(): boolean;
  /** The kill began: record its reason and when its KILL is due (ms since the epoch). */
  began(reason: string, killAt: number): void;
}

export class KillSequence {
  private why: string | null = null;
  private killed = false;
  /** The grace period ran out before the KILL could be sent: it goes when the job can be reached. */
  private due = false;
  private timer: NodeJS.Timeout | null = null;
  private over = false;
  private grace: Promise<void> | null = null;

  constructor(
    private readonly graceMs: number,
    private readonly clock: Clock,
    private readonly target: Signaller,
  ) {}

  /** The kill's reason; null while none began. */
  get reason(): string | null {
    return this.why;
  }

  /** The KILL went out: the job reports 137 whatever its own exit status. */
  get escalated(): boolean {
    return this.killed;
  }

  /** Resolves once the KILL went out; null while no kill began. */
  get escalation(): Promise<void> | null {
    return this.grace;
  }

  /** TERM now, KILL after the grace period. */
  kill(reason: string): void {
    if (this.over) return;
    if (this.why === null) {
      this.why = reason;
      this.target.began(reason, this.clock.now() + this.graceMs);
      this.target.term();
    }
    this.escalateIn(this.graceMs);
  }

  /** A kill begun before this worker restarted: its TERM went out, its KILL is due at `killAt`. */
  resume(reason: string, killAt: number): void {
    this.why = reason;
    this.escalateIn(Math.max(0, killAt - this.clock.now()));
  }

  /** A kill begun before a restart, of a job that has ended since: only its reason is left to report. */
  keep(reason: string | null): void {
    this.why ??= reason;
  }

  /** The job can be reached now (its container runs): a KILL that fell due goes, else a begun kill's TERM. */
  reachable(): void {
    if (this.due) {
      this.due = false;
      this.fire();
    } else if (this.why !== null) this.target.term();
  }

  private escalateIn(ms: number): void {
    this.grace ??= new Promise((resolve) => {
      this.timer = setTimeout(() => {
        this.fire();
        resolve();
      }, ms);
    });
  }

  private fire(): void {
    if (this.target.kill()) this.killed = true;
    else this.due = true;
  }

  /** The run is over: no signal is sent any more. */
  end(): void {
    this.over = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
