// The table of every option q knows, per mode. The argv pre-pass resolves prefixes against
// it and yargs types and documents what the pre-pass produced.

export const Modes = ['client', 'master', 'worker'] as const;
export type Mode = (typeof Modes)[number];

/**
 * bool: `-x` alone is true, `-x true|false` sets it.
 * value: one argument.
 * list: every following argument up to the next option.
 * command: like list, but only an exact option name ends it, so `-add ls -l` keeps `-l`.
 */
export type OptionKind = 'bool' | 'value' | 'list' | 'command';

export interface OptionDef {
  name: string;
  kind: OptionKind;
  modes: readonly Mode[] | 'all';
  describe: string;
}

const all = 'all' as const;
const client = ['client'] as const;
const master = ['master'] as const;
const worker = ['worker'] as const;
const masterWorker = ['master', 'worker'] as const;

/** Options whose values are SPECs (jobs/filter.ts). */
export const SPEC_OPTIONS = ['list', 'info', 'kill', 'delete', 'rerun', 'hold', 'release', 'wait', 'after', 'afterAny'] as const;

export const OPTIONS: readonly OptionDef[] = [
  // Global
  { name: 'mode', kind: 'value', modes: all, describe: 'master | worker | client (default client)' },
  { name: 'masterHost', kind: 'value', modes: all, describe: 'host of the master (default localhost)' },
  { name: 'masterPort', kind: 'value', modes: all, describe: 'port of the master (default 7890)' },
  { name: 'masterTimeout', kind: 'value', modes: all, describe: 'seconds to wait for the master (default 2)' },
  { name: 'hostname', kind: 'value', modes: all, describe: 'name this machine reports (default: its hostname)' },
  { name: 'verbose', kind: 'value', modes: all, describe: 'how much to print: 0 warnings and errors, 1 (default) what happens, 2 also every protocol message' },
  { name: 'pretend', kind: 'bool', modes: all, describe: 'print the job that would be added; add nothing' },
  { name: 'help', kind: 'bool', modes: all, describe: 'show this help (also -h, --help, q help)' },
  { name: 'version', kind: 'bool', modes: all, describe: "print q's version" },
  { name: 'token', kind: 'value', modes: all, describe: 'shared secret (default: $Q_TOKEN, then STATE/token)' },
  { name: 'tls', kind: 'list', modes: all, describe: 'master: CERT KEY, serve wss:// only; others: CERT, the certificate to trust (wss://)' },
  { name: 'state', kind: 'value', modes: all, describe: 'state directory: database, token, logs (default ~/.q)' },

  // Client: adding
  { name: 'add', kind: 'command', modes: client, describe: 'add a job running this command; `-add -` reads one per line from stdin' },
  { name: 'direct', kind: 'command', modes: client, describe: 'run the command here and now, without a master' },
  { name: 'numTimes', kind: 'value', modes: client, describe: 'add each command this many times' },
  { name: 'specPath', kind: 'value', modes: client, describe: 'YAML file of job fields (default job.spec, if present: then no hooks, images, networks or paths)' },
  { name: 'doneHook', kind: 'value', modes: client, describe: 'shell command the master runs when the job ends done (_OUTPATH_: its outPath)' },
  { name: 'failedHook', kind: 'value', modes: client, describe: 'shell command the master runs when the job fails' },
  { name: 'priority', kind: 'value', modes: client, describe: 'lower runs first (default 5)' },
  { name: 'time', kind: 'value', modes: client, describe: 'time limit, e.g. 30m (default 48h)' },
  { name: 'mem', kind: 'value', modes: client, describe: 'memory limit, e.g. 500m (default 1.5g)' },
  { name: 'memGrace', kind: 'value', modes: client, describe: 'kill at mem × this (default 1)' },
  { name: 'disk', kind: 'value', modes: client, describe: 'disk limit of outPath (default 10g)' },
  { name: 'tags', kind: 'list', modes: client, describe: 'tags to filter jobs by' },
  { name: 'workerHandle', kind: 'value', modes: client, describe: 'run only on this worker' },
  { name: 'inPaths', kind: 'list', modes: client, describe: 'files to copy to the worker before the job' },
  { name: 'realtimeInPaths', kind: 'list', modes: client, describe: 'files re-sent to the job while it runs' },
  { name: 'outPath', kind: 'value', modes: client, describe: 'directory that receives the job outputs' },
  { name: 'outFiles', kind: 'list', modes: client, describe: 'MODE:GLOB (full|append) copied back into outPath' },
  { name: 'shareWorkingPath', kind: 'bool', modes: client, describe: 'run in this directory on a shared file system' },
  { name: 'docker', kind: 'value', modes: client, describe: 'run the job in a container of this image' },
  { name: 'cpus', kind: 'value', modes: client, describe: 'CPUs the job needs (a Docker job is held to them), e.g. 1.5' },
  { name: 'gpus', kind: 'value', modes: client, describe: 'GPUs the job needs (a Docker job gets them)' },
  { name: 'logLimit', kind: 'value', modes: client, describe: 'output kept in its log: the first and last halves (default 100m)' },
  { name: 'retries', kind: 'value', modes: client, describe: 'times the job may lose its worker and be queued again (default 1)' },
  { name: 'retry', kind: 'value', modes: client, describe: 'times a failed command (non-zero exit, not a kill or a limit) runs again (default 0)' },
  { name: 'retryDelay', kind: 'value', modes: client, describe: 'wait before the first retry, doubling each time up to 1h (default 10s)' },
  { name: 'queue', kind: 'value', modes: client, describe: 'run only on workers serving this queue' },
  { name: 'cidFile', kind: 'value', modes: client, describe: 'file where the job writes the id of a container it starts: a kill stops it too' },
  { name: 'network', kind: 'bool', modes: client, describe: 'Docker jobs: give the container a network (default none)' },
  { name: 'after', kind: 'list', modes: client, describe: 'run the added jobs once every job matching SPEC... is done with exit code 0' },
  { name: 'afterAny', kind: 'list', modes: client, describe: 'run the added jobs once every job matching SPEC... has ended, whatever the outcome' },
  { name: 'quiet', kind: 'bool', modes: client, describe: 'with -add: print only the new handles, one per line' },
  // Client: reading and changing
  { name: 'list', kind: 'list', modes: client, describe: 'list jobs matching SPEC... (default all)' },
  { name: 'last', kind: 'value', modes: client, describe: 'with -list: only the N newest jobs that match, oldest first' },
  { name: 'info', kind: 'list', modes: client, describe: 'show jobs matching SPEC... in detail' },
  { name: 'kill', kind: 'list', modes: client, describe: 'kill running jobs matching SPEC...' },
  { name: 'delete', kind: 'list', modes: client, describe: 'delete jobs matching SPEC... (killing running ones)' },
  { name: 'rerun', kind: 'list', modes: client, describe: 'put finished jobs matching SPEC... back in the queue' },
  { name: 'hold', kind: 'list', modes: client, describe: 'hold ready jobs matching SPEC... (with -add and no SPEC: add them held)' },
  { name: 'release', kind: 'list', modes: client, describe: 'let held jobs matching SPEC... run' },
  { name: 'wait', kind: 'list', modes: client, describe: 'wait until every job matching SPEC... (with -add: the added ones) has ended; exit 0 if all are done with 0' },
  { name: 'w', kind: 'bool', modes: client, describe: 'list workers' },
  { name: 'log', kind: 'value', modes: client, describe: "print a job's output" },
  { name: 'follow', kind: 'bool', modes: client, describe: 'with -log: keep printing until the job ends' },
  { name: 'head', kind: 'value', modes: client, describe: 'with -log: only the first N lines' },
  { name: 'tail', kind: 'value', modes: client, describe: 'with -log: only the last N lines (then, with -follow, what comes)' },
  { name: 'headers', kind: 'bool', modes: client, describe: 'print column headers' },
  { name: 'tabs', kind: 'bool', modes: client, describe: 'tab-separated raw numbers (seconds, MB; -1 = unknown)' },
  { name: 'json', kind: 'bool', modes: client, describe: 'print JSON' },
  { name: 'saveState', kind: 'bool', modes: client, describe: 'make the master checkpoint its database' },
  { name: 'shutdownMaster', kind: 'bool', modes: client, describe: 'stop the master cleanly' },
  { name: 'clearWorkers', kind: 'bool', modes: client, describe: 'forget the workers that are away (connected ones stay)' },
  { name: 'resetWorkers', kind: 'list', modes: client, describe: 'workers HANDLE... (none: all connected) empty their basePath once they hold no job' },
  // EC2 options of the old q: recognised so that old scripts get a clear answer.
  { name: 'startWorkers', kind: 'value', modes: client, describe: 'with -slurm: start N workers as Slurm jobs (pilots)' },
  { name: 'slurm', kind: 'bool', modes: client, describe: '-startWorkers on Slurm (sbatch); -pretend prints the script' },
  { name: 'partition', kind: 'value', modes: client, describe: "the pilots' Slurm partition" },
  { name: 'workerTime', kind: 'value', modes: client, describe: "each pilot's Slurm time limit, e.g. 4h (default 1h)" },
  { name: 'slurmArgs', kind: 'value', modes: ['client', 'master'], describe: "more sbatch options for pilots, e.g. '--account=lab --qos=low'" },
  { name: 'runWorkers', kind: 'list', modes: client, describe: 'not supported (EC2)' },
  { name: 'dashboard', kind: 'bool', modes: ['client', 'master'], describe: 'client: print a one-time link that logs a browser in to the dashboard; master: -dashboard false turns it off' },
  { name: 'termWorkers', kind: 'list', modes: client, describe: 'slurm | HANDLE...: end pilots (their jobs go back to the queue)' },

  // Master
  { name: 'netInterface', kind: 'value', modes: master, describe: 'address to listen on (default 127.0.0.1)' },
  { name: 'localWorker', kind: 'bool', modes: master, describe: 'also start a worker on this machine' },
  { name: 'heartbeatTimeout', kind: 'value', modes: master, describe: 'a worker silent this long is lost (default 30s)' },
  { name: 'keepFinished', kind: 'value', modes: master, describe: 'remove finished jobs (and their logs) this long after they end, e.g. 30d (default: keep all)' },
  { name: 'durable', kind: 'bool', modes: master, describe: 'fsync every commit (survive power loss, slower)' },
  { name: 'autoscale', kind: 'value', modes: master, describe: 'slurm:MAX: submit pilots (Slurm jobs running workers) while jobs wait, at most MAX' },
  { name: 'readOnly', kind: 'bool', modes: master, describe: 'the dashboard shows, but offers no kill, rerun, delete, hold or release' },

  // Worker (and the master's local worker)
  { name: 'handle', kind: 'value', modes: worker, describe: 'worker name (default: short hostname + 2 chars)' },
  { name: 'basePath', kind: 'value', modes: all, describe: 'scratch directory (default scratch); with -startWorkers, where pilots keep theirs' },
  { name: 'maxTime', kind: 'value', modes: masterWorker, describe: 'longest job accepted, e.g. 1d' },
  { name: 'slots', kind: 'value', modes: all, describe: 'jobs run at once (default 1); with -startWorkers, per pilot' },
  { name: 'lifetime', kind: 'value', modes: ['client', 'master', 'worker'], describe: 'leave after this long without a job, e.g. 10m (default: never)' },
  { name: 'walltime', kind: 'value', modes: worker, describe: 'live at most this long, e.g. 4h: take only jobs whose -time fits in what is left, then leave' },
  { name: 'sleepInterval', kind: 'value', modes: worker, describe: 'seconds between status reports (default 5)' },
  { name: 'killGrace', kind: 'value', modes: worker, describe: 'seconds between TERM and KILL (default 5)' },
  { name: 'minFreeDisk', kind: 'value', modes: masterWorker, describe: 'worker: take no new job with less free disk under basePath; master: write no output with less free under its outPath (default 100m)' },
  { name: 'maxOutput', kind: 'value', modes: master, describe: "what one job's outputs may take on the master's disk (default 10g)" },
  { name: 'maxOutputEntries', kind: 'value', modes: worker, describe: "entries one copy of a job's outputs reads under its outPath; a job with more fails, saying so (default 200000)" },
  { name: 'queues', kind: 'list', modes: masterWorker, describe: 'queues this worker serves, besides jobs of no queue' },
  { name: 'dockerImage', kind: 'value', modes: masterWorker, describe: 'run jobs that name no image in this image' },
  { name: 'requireDocker', kind: 'bool', modes: masterWorker, describe: 'run nothing outside a container' },
  { name: 'dockerUser', kind: 'value', modes: masterWorker, describe: 'UID:GID containers run as (default: this process)' },
  { name: 'allowNetwork', kind: 'bool', modes: masterWorker, describe: 'containers may have a network (-network); default: yes, but no with -requireDocker' },
  { name: 'allowImages', kind: 'list', modes: masterWorker, describe: 'images jobs may name, e.g. lab/* python:3.*  (default: any)' },
];

export function optionsFor(mode: Mode): OptionDef[] {
  return OPTIONS.filter((o) => o.modes === 'all' || (o.modes as readonly string[]).includes(mode));
}
