// `dispatch-q start`: the job CodaLab's work manager asks for, built the way the old
// dispatch-q staged it. SCRIPT is DIR/UUID.sh. Unless the working path is shared, the job gets
// every DIR/UUID* entry as an input, DIR/UUID.action as a realtime input (CodaLab writes
// `kill` there), DIR/UUID* copied back into DIR as outputs, runs `bash UUID.sh
// use_script_for_temp_dir` in its copy of DIR (the argument makes the script find its files
// beside its copy), and names DIR/UUID.cid, where the script's `docker run --cidfile` writes
// its container's id, so that killing the job stops that container too.
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { JOB_SPEC_DEFAULTS, makeJobSpec, type JobSpec } from '../protocol/jobSpec.js';

export interface StartRequest {
  script: string;
  username?: string;
  /** Seconds. */
  time?: number;
  /** Bytes. */
  memory?: number;
  disk?: number;
  cpus?: number;
  gpus?: number;
  queue?: string;
  /** CodaLab's: higher is more important. */
  priority?: number;
  shareWorkingPath: boolean;
}

const MB = 1024 * 1024;
const DEFAULT = JOB_SPEC_DEFAULTS;

/** A one-line error for the caller (printed as JSON, never as a trace). */
export class DispatchError extends Error {}

export function startSpec(r: StartRequest, cwd: string): JobSpec {
  const script = isAbsolute(r.script) ? r.script : resolve(cwd, r.script);
  if (!existsSync(script)) throw new DispatchError(`script ${script} does not exist`);
  const dir = dirname(script);
  const uuid = basename(script).split('.')[0]!;
  if (!uuid) throw new DispatchError(`cannot tell the bundle's UUID from ${basename(script)}`);
  const positive = (v: number | undefined, what: string) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new DispatchError(`${what} must be a positive number, not ${v}`);
    return v;
  };
  const time = positive(r.time, '--request-time');
  const memory = positive(r.memory, '--request-memory');
  const disk = positive(r.disk, '--request-disk');
  const cpus = positive(r.cpus, '--request-cpus');
  const gpus = r.gpus ?? 0;
  if (!Number.isInteger(gpus) || gpus < 0) throw new DispatchError(`--request-gpus must be 0 or more, not ${r.gpus}`);
  const shared = r.shareWorkingPath;
  return makeJobSpec({
    command: shared ? `bash ${script} use_script_for_temp_dir` : `bash ${basename(script)} use_script_for_temp_dir`,
    // CodaLab: higher is sooner; q: lower is sooner. Around q's default, so that CodaLab's
    // default (0, which its work manager does not even pass) is q's.
    priority: r.priority !== undefined ? DEFAULT.priority - Math.trunc(r.priority) : DEFAULT.priority,
    time: time !== undefined ? Math.max(1, Math.ceil(time)) : DEFAULT.time,
    mem: memory !== undefined ? Math.max(1, Math.ceil(memory / MB)) : DEFAULT.mem,
    memGrace: 1,
    disk: disk !== undefined ? Math.max(1, Math.ceil(disk / MB)) : DEFAULT.disk,
    tags: r.username ? [`user:${r.username}`] : [],
    workerHandle: null,
    workingPath: dir,
    shareWorkingPath: shared,
    inPaths: shared ? [] : readdirSync(dir).filter((f) => f.startsWith(uuid) && f !== `${uuid}.action` && f !== `${uuid}.cid`).map((f) => join(dir, f)),
    realtimeInPaths: shared ? [] : [join(dir, `${uuid}.action`)],
    outPath: shared ? null : dir,
    outFiles: shared ? [] : [`full:${uuid}*`],
    cpus: cpus ?? null,
    gpus,
    queue: r.queue ?? null,
    cidFile: join(dir, `${uuid}.cid`),
  });
}
