// The container a Docker job runs in, as Engine API create options. Pure, so every setting
// can be unit-tested without an engine (GPUs included, which this machine lacks).
//
// Choices, and why:
// - The command runs under the image's /bin/sh, like a process job's command; the image's
//   entrypoint is bypassed so that the same command line means the same thing in any image.
// - Its stdout and stderr go straight into the job's two output files, each mounted on its
//   own (at /.q/stdout and /.q/stderr): output keeps being recorded while the worker is down,
//   and a restarted worker reads on from there. Only the files are mounted, not their
//   directory: the job cannot swap them for links or pipes, nor see the worker's records
//   beside them.
// - docker-init (tini) is PID 1 and passes signals to the job's whole process group, so a
//   kill is TERM to every process, as for process jobs, and zombies are reaped.
// - Working dir and outPath are mounted at their own paths, so absolute paths in the command
//   (`///` expands to the scratch base) mean the same inside as outside.
// - Staged inputs are mounted read-only on top, each at its own path: a job cannot change
//   what a later job of this worker is handed (an input inside the outPath is an output too,
//   and stays writable; stagedCopies.ts refetches a copy that changed).
// - A volume the image declares is a tmpfs the size of the job's -disk: the engine would make
//   an anonymous volume there, uncounted by -disk and left behind with the container.
// - No network unless asked; no new privileges; every capability dropped; no swap beyond
//   the memory limit.
import { jobEnv } from '../../protocol/jobEnv.js';
import type Dockerode from 'dockerode';
import type { Assignment } from '../../protocol/jobState.js';

/** A worker's containers are those with its handle and scratch base (one engine may serve several q's). */
export const LABELS = { job: 'q.job', worker: 'q.worker', base: 'q.base', lease: 'q.lease' } as const;

/** Where the job's output files are mounted inside its container. */
export const FILES_MOUNT = '/.q';

/** The engine refuses memory limits under 6 MB. */
const MIN_MEMORY_MB = 6;

export interface ContainerPlace {
  /** The image, after the worker's default was applied. */
  image: string;
  workerHandle: string;
  basePath: string;
  /** `uid:gid` the job runs as. */
  user: string;
  /** Host paths: where it runs, its files directory, its outPath (or null). */
  workDir: string;
  /** The job's output files on the host (they must exist: a missing source becomes a directory). */
  stdout: string;
  stderr: string;
  outDir: string | null;
  /** Host paths of the directories its realtime inputs appear in (writable). */
  inputs?: string[];
  /** Host paths of its staged inputs, mounted read-only over whatever holds them. */
  readOnly?: string[];
  /** The volumes its image declares: each a tmpfs of the job's -disk, not an anonymous volume left behind. */
  volumes?: string[];
  /** The command with `///` already expanded. */
  command: string;
  /** Where the engine finds each of those directories, when not at its own path (pinnedMounts.ts); null: not mounted. */
  sources?: ReadonlyMap<string, string | null>;
}

/** The directories (and input files) of a job that are bind-mounted at their own paths: none inside another. */
export function boundPaths(place: Pick<ContainerPlace, 'workDir' | 'outDir' | 'inputs'>): string[] {
  const dirs: string[] = [place.workDir];
  for (const p of [place.outDir, ...(place.inputs ?? [])]) {
    if (!p || dirs.some((d) => p === d || p.startsWith(d + '/'))) continue;
    dirs.push(p);
  }
  return dirs;
}

export function containerName(job: Pick<Assignment, 'handle' | 'lease'>): string {
  return `q-${job.handle}-${job.lease}`;
}

export function memoryLimitBytes(job: Pick<Assignment, 'mem' | 'memGrace'>): number {
  return Math.round(Math.max(MIN_MEMORY_MB, job.mem * job.memGrace) * 1024 * 1024);
}

export function containerSpec(job: Assignment, place: ContainerPlace): Dockerode.ContainerCreateOptions {
  const source = (p: string) => (place.sources?.has(p) ? place.sources.get(p)! : p);
  const [work, ...more] = boundPaths(place);
  const mounts: Dockerode.MountSettings[] = [
    { Type: 'bind', Source: source(work!) ?? work!, Target: work! },
    { Type: 'bind', Source: place.stdout, Target: `${FILES_MOUNT}/stdout` },
    { Type: 'bind', Source: place.stderr, Target: `${FILES_MOUNT}/stderr` },
  ];
  // Each at its own path, unless a mount already holds it.
  for (const p of more) {
    const src = source(p);
    if (src !== null) mounts.push({ Type: 'bind', Source: src, Target: p });
  }
  for (const p of place.readOnly ?? []) {
    const src = source(p);
    if (src !== null) mounts.push({ Type: 'bind', Source: src, Target: p, ReadOnly: true });
  }
  const memory = memoryLimitBytes(job);
  return {
    name: containerName(job),
    Image: place.image,
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: [`exec >>${FILES_MOUNT}/stdout 2>>${FILES_MOUNT}/stderr </dev/null\n${place.command}`],
    WorkingDir: place.workDir,
    User: place.user,
    Env: [...Object.entries(jobEnv(job)).map(([k, v]) => `${k}=${v}`), 'TINI_KILL_PROCESS_GROUP=1'],
    Labels: {
      [LABELS.job]: job.handle,
      [LABELS.worker]: place.workerHandle,
      [LABELS.base]: place.basePath,
      [LABELS.lease]: job.lease,
    },
    HostConfig: {
      Init: true,
      Mounts: mounts,
      Memory: memory,
      MemorySwap: memory,
      // (copied up from the image, as the engine fills an anonymous volume; its pages count
      // toward the container's memory)
      ...(place.volumes?.length ? { Tmpfs: Object.fromEntries(place.volumes.map((v) => [v, `size=${job.disk}m,mode=1777`])) } : {}),
      ...(job.cpus !== null ? { NanoCpus: Math.round(job.cpus * 1e9) } : {}),
      ...(job.gpus > 0 ? { DeviceRequests: [{ Driver: 'nvidia', Count: job.gpus, Capabilities: [['gpu']] }] } : {}),
      NetworkMode: job.network ? 'bridge' : 'none',
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
    },
  };
}
