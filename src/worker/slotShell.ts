// A long-lived /bin/sh per worker slot that starts that slot's jobs.
//
// Why: creating a process is the dominant cost of a short job, and on small VMs a fork of the
// worker's Node process costs 5-15 ms (it copies the page tables of a large heap), blocking
// the event loop each time. A fork of a small shell is several times cheaper and happens in
// another process. Each job still gets a fresh subshell, so nothing a job does to its shell
// (variables, cwd, traps) reaches the next one:
//
//   ( exec >>OUT 2>>ERR </dev/null; trap - TERM INT HUP  # its own files; default signals
//     echo 0 >CGROUP/cgroup.procs                         # into the job's cgroup (cgroup.ts)
//     cd -P WORKDIR && [ "$PWD" = WORKDIR ] &&           # the old q's wrapper, refusing a
//     eval 'COMMAND' ); q_exit=$?                         # link swapped in on the way
//   echo $q_exit >EXIT; echo "X $q_exit"                  # exit status to a file, and back
//
// The job's subshell is the slot shell's only child while it runs, so the worker finds it in
// its /proc snapshot and the shell need not report it.
//
// The slot shell runs in a session of its own and ignores TERM, INT and HUP, so a TERM sent to
// its process group reaches the job's processes and leaves the shell ready for the next job. A
// KILL to the group ends the shell too: its job then reports the KILL and a new shell takes the
// slot. Processes a job leaves behind stay in the group; the worker kills them (see Worker).
import { spawn, type ChildProcess } from 'node:child_process';
import { readStat } from './procTable.js';

export type ShellExit = { code: number } | { died: true };

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ShellJob {
  handle: string;
  /** What the job finds in its environment (protocol/jobEnv.ts). */
  env: Record<string, string>;
  cwd: string;
  command: string;
  stdoutPath: string;
  stderrPath: string;
  /** Gets the exit status too: a worker restarted meanwhile reads it there. */
  exitPath: string;
  /** `cgroup.procs` files the subshell moves itself into before anything else (cgroup.ts). */
  cgroupJoin?: string[];
}

export class SlotShell {
  readonly pid: number;
  /** When it started (clock ticks since boot): with the pid, it names this shell and no other. */
  readonly startTicks: number;
  private readonly child: ChildProcess;
  private buf = '';
  private current: ((e: ShellExit) => void) | null = null;
  private dead = false;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn('/bin/sh', ['-s'], { detached: true, stdio: ['pipe', 'pipe', 'ignore'], env });
    this.pid = this.child.pid!;
    this.startTicks = readStat(this.pid)?.startTicks ?? -1; // -1: gone already, as it will report
    this.child.stdin!.on('error', () => {});
    this.child.stdin!.write("trap '' TERM INT HUP\n");
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => this.onData(d));
    this.child.once('exit', () => {
      this.dead = true;
      const cur = this.current;
      this.current = null;
      cur?.({ died: true });
    });
  }

  /** Its group is being sent KILL: it will die, so it takes no next job (see retire). */
  private retired = false;

  get alive(): boolean {
    return !this.dead && !this.retired;
  }

  /**
   * Called as a KILL goes to this shell's group. The run that sent it may be over before the
   * shell has died, and the next job given this shell would die with it ("The job ended its
   * own shell", seen when a job ran again on the worker where its old copy was KILLed).
   */
  retire(): void {
    this.retired = true;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  private onData(d: string): void {
    this.buf += d;
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      const cur = this.current;
      if (cur && line.startsWith('X ')) {
        this.current = null;
        cur({ code: Number(line.slice(2)) });
      }
    }
  }

  /** Starts a job; the promise is its exit status. */
  run(job: ShellJob): Promise<ShellExit> {
    if (this.dead) return Promise.resolve({ died: true });
    if (this.current) throw new Error('slot shell is busy');
    return new Promise((done) => {
      this.current = done;
      const join = (job.cgroupJoin ?? []).map((f) => `echo 0 >${q(f)}`).join(' && ');
      this.child.stdin!.write(
        `( exec >>${q(job.stdoutPath)} 2>>${q(job.stderrPath)} </dev/null; trap - TERM INT HUP; ` +
          (join ? `{ ${join}; } || { echo "q: could not put the job in its cgroup" >&2; exit 125; }; ` : '') +
          Object.entries(job.env).map(([k, v]) => `${k}=${q(v)}; export ${k}; `).join('') +
          `{ cd -P ${q(job.cwd)} && [ "$PWD" = ${q(job.cwd)} ]; } || { echo "q: cannot enter ${job.cwd.replace(/[^\w./-]/g, '?')} (not a real directory)" >&2; exit 125; }; ` +
          `eval ${q(job.command)} ); q_exit=$?; echo $q_exit >${q(job.exitPath)}; echo "X $q_exit"\n`,
      );
    });
  }

  /** Ends the shell (and anything still in its group). */
  close(): void {
    if (this.dead) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
