// -autoscale slurm:MAX: the master submits pilots (client/slurm.ts) while jobs wait that no
// connected or starting pilot could take, up to MAX pilots counting those still pending in
// Slurm (so a busy Slurm queue is not flooded), and leaves it to idle pilots to end by their
// -lifetime. A pilot is sized by what the waiting jobs need (the largest memory, CPUs and
// GPUs among their requirement classes, the queues they name); jobs no pilot could ever take
// (pinned to a worker, longer than a pilot's walltime, in Docker) do not count. Slurm is asked
// through child processes, never synchronously: the event loop waits for neither squeue nor sbatch.
import { execFile } from 'node:child_process';
import type { Hub } from './hub.js';
import { PILOT_HANDLE, SQUEUE_PILOTS, pilotTasks, pilotWalltime, submitPilotsAsync, type PilotSpec } from '../client/slurm.js';
import type { Requirement } from '../store/readyClasses.js';

export interface AutoscaleOptions {
  max: number;
  /** What every pilot gets, less its sizes: the master's address, -slurmArgs, -lifetime, Slurm time. */
  pilot: Omit<PilotSpec, 'count' | 'memMb' | 'cpus' | 'gpus' | 'queues'>;
  token: string;
}

/** What Slurm says of this user's pilots: array tasks by state. */
export interface PilotCounts {
  pending: number;
  running: number;
}

export type SlurmQuery = () => Promise<PilotCounts>;

/** squeue, asynchronously. */
export const squeuePilots: SlurmQuery = () =>
  new Promise((resolve, reject) => {
    execFile('squeue', SQUEUE_PILOTS, { timeout: 30_000 }, (e, stdout) => {
      if (e) return reject(new Error(`squeue: ${e.message}`));
      const states = pilotTasks(stdout).map(([, state]) => state);
      resolve({ pending: states.filter((s) => s === 'PENDING' || s === 'CONFIGURING').length, running: states.filter((s) => s === 'RUNNING' || s === 'COMPLETING').length });
    });
  });

export class Autoscaler {
  private busy = false;
  private said = '';
  /** What it last did and why, for -w and the log. */
  status = 'no pilots yet';

  constructor(
    private readonly hub: Hub,
    private readonly opts: AutoscaleOptions,
    private readonly query: SlurmQuery = squeuePilots,
    private readonly submit: (spec: PilotSpec, token: string) => Promise<string> = submitPilotsAsync,
  ) {}

  /** One look (every few seconds): submits what is missing. Never two at once. */
  tick(): void {
    if (this.busy) return;
    this.busy = true;
    void this.look()
      .catch((e: Error) => this.say(`Autoscale: ${e.message}`, true))
      .finally(() => (this.busy = false));
  }

  private async look(): Promise<void> {
    const { pilot, max } = this.opts;
    const walltime = pilotWalltime(pilot.timeS);
    // Jobs a pilot could take: no pin, no image, a time that fits in its walltime.
    const cap = 2 * max * pilot.slots + 1; // counting past what MAX pilots would take changes nothing
    const waiting = this.hub.jobs.ready.waiting(cap).filter(({ req }) => runnableOnPilot(req, walltime));
    const ready = waiting.reduce((n, w) => n + w.ready, 0);
    const jobs = `${ready}${waiting.some((w) => w.ready >= cap) ? '+' : ''} jobs wait`;
    if (ready === 0) return this.say(`Autoscale: no job waits for a pilot`);
    const slurm = await this.query();
    const connected = this.hub.workers.connected().filter((s) => PILOT_HANDLE.test(s.handle));
    const pilots = slurm.pending + slurm.running;
    const starting = Math.max(0, pilots - connected.length);
    // Jobs the pilots on their way will take; the rest need more.
    const uncovered = ready - starting * pilot.slots;
    const want = Math.min(Math.ceil(Math.max(0, uncovered) / pilot.slots), max - pilots);
    if (want <= 0) {
      return this.say(`Autoscale: ${jobs}; ${pilots} of at most ${max} pilots (${starting} starting): none more`);
    }
    const needs = waiting.map((w) => w.req);
    const spec: PilotSpec = {
      ...pilot,
      count: want,
      memMb: Math.max(...needs.map((r) => r.mem)) * pilot.slots,
      cpus: Math.max(1, ...needs.map((r) => r.cpus ?? 1)) * pilot.slots,
      gpus: Math.max(0, ...needs.map((r) => r.gpus)) * pilot.slots,
      queues: [...new Set(needs.flatMap((r) => (r.queue === null ? [] : [r.queue])))],
    };
    const id = await this.submit(spec, this.opts.token);
    this.say(
      `Autoscale: ${jobs}, ${pilots} pilots (${starting} starting) of at most ${max}: submitted ${want} as Slurm job ${id}` +
        ` (${spec.slots} slots, ${spec.memMb}m, ${spec.cpus} CPUs${spec.gpus ? `, ${spec.gpus} GPUs` : ''}${spec.queues.length ? `, queues ${spec.queues.join(' ')}` : ''})`,
      true,
    );
  }

  private say(line: string, always = false): void {
    this.status = line.replace(/^Autoscale: /, '');
    if (always || line !== this.said) this.hub.log(line);
    this.said = line;
  }
}

function runnableOnPilot(r: Requirement, walltimeS: number): boolean {
  return r.pin === null && !r.docker && r.time <= walltimeS;
}
