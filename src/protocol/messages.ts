// Every message that crosses a q socket, as one discriminated union on `type`, with the zod
// schema that checks it at the boundary. Nothing else is sent or accepted: `decode` turns a
// raw frame into a typed message or into an error the caller answers with, never a throw
// that reaches the event loop.
//
// Conversation shapes:
//   client → master: a request with an `id`; the master answers with a response carrying the
//     same `id` (or `error`). `log` with follow streams `logData` frames, then `logEnd`.
//   worker → master: `workerHello` first; then heartbeats, job events and results. Every job
//   event carries the lease the master issued with `assign`; the master applies it only while
//   that lease is current.
//   master → worker: `welcome` (reconciliation), `assign`, `killJob`, `resultAck`, `leaseGone`.
import { MAX_COMMAND_BYTES, MAX_FRAME_BYTES, MAX_JOBS_PER_ADD } from '../common/limits.js';
import { DEFAULT_LOG_LIMIT_MB, MAX_LOG_LIMIT_MB } from '../common/logLimit.js';
import { z } from 'zod';

/** Frames larger than this are refused before parsing, so a hostile peer cannot make us buffer. */
export { MAX_FRAME_BYTES };

const handle = z.string().regex(/^J-[0-9a-z]{6}$/);
const lease = z.string().min(1).max(64);
const id = z.number().int().nonnegative();
const specs = z.array(z.string().max(4096)).max(100_000);

/** What a submitter asks for; the master fills in defaults it does not know. */
export const JobSpecSchema = z.object({
  command: z.string().min(1).max(MAX_COMMAND_BYTES),
  priority: z.number().int(),
  time: z.number().int().positive(), // seconds
  mem: z.number().int().positive(), // MB
  memGrace: z.number().positive(),
  disk: z.number().int().positive(), // MB
  tags: z.array(z.string().max(256)).max(256),
  workerHandle: z.string().max(256).nullable(),
  workingPath: z.string().max(4096), // the submitter's directory
  shareWorkingPath: z.boolean(),
  inPaths: z.array(z.string().max(4096)).max(100_000),
  realtimeInPaths: z.array(z.string().max(4096)).max(100_000),
  outPath: z.string().max(4096).nullable(),
  outFiles: z.array(z.string().max(4096)).max(1000),
  doneHook: z.string().max(100_000).nullable(),
  failedHook: z.string().max(100_000).nullable(),
  // Docker: the image to run in (null = a plain process), CPUs and GPUs it may use, and
  // whether it gets a network. Defaults let older submitters and stored specs through.
  dockerImage: z.string().min(1).max(512).nullable().default(null),
  cpus: z.number().positive().max(4096).nullable().default(null),
  gpus: z.number().int().nonnegative().max(256).default(0),
  network: z.boolean().default(false),
  /** Only workers serving this queue take the job (null: any worker). */
  queue: z.string().min(1).max(256).nullable().default(null),
  /**
   * A file (a submitter-side path, like inPaths) where the job writes the id of a container
   * it starts itself: killing the job stops that container too.
   */
  cidFile: z.string().max(4096).nullable().default(null),
  /** Times it may lose its worker (killed, machine gone) and be queued again before it fails. */
  retries: z.number().int().nonnegative().max(1000).default(1),
  /** MB of its output (stdout and stderr together) kept: the first half and the last half. */
  logLimit: z.number().int().positive().max(MAX_LOG_LIMIT_MB).default(DEFAULT_LOG_LIMIT_MB),
});
export type JobSpec = z.infer<typeof JobSpecSchema>;

export const JobStatuses = ['ready', 'assigned', 'init', 'running', 'done', 'failed'] as const;
export type JobStatus = (typeof JobStatuses)[number];

/** A job as the master shows it to clients. Numbers use -1 for "not known". */
export const JobViewSchema = JobSpecSchema.extend({
  handle,
  status: z.enum(JobStatuses),
  createdAt: z.number(),
  worker: z.string().nullable(),
  workerHostname: z.string().nullable(),
  attempt: z.number().int(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  exitCode: z.number().int().nullable(),
  exitReason: z.string().nullable(),
  realTime: z.number(), // seconds
  userTime: z.number(), // seconds
  maxMem: z.number(), // MB
  maxDisk: z.number(), // MB
  curMem: z.number(), // MB, while it runs
  /** Bytes of its output dropped from the middle of its log (-logLimit), once it has ended. */
  logDropped: z.number().int().nonnegative().default(0),
});
export type JobView = z.infer<typeof JobViewSchema>;

export const ResourcesSchema = z.object({
  hostname: z.string().max(256),
  cpus: z.number().int().nonnegative(),
  cpuSpeed: z.number().nonnegative(), // MHz
  freeMem: z.number().nonnegative(), // MB
  freeDisk: z.number().nonnegative(), // MB, of the scratch base
  busyProcesses: z.array(z.string().max(512)).max(20),
  /** Version of the Docker engine the worker reaches; null = none. */
  docker: z.string().max(128).nullable().default(null),
  /** Whether it takes jobs that name no image (false: -requireDocker without -dockerImage). */
  bare: z.boolean().default(true),
  gpus: z.number().int().nonnegative().default(0),
  /** Queues it serves: jobs of these queues, besides jobs of none. */
  queues: z.array(z.string().max(256)).max(64).default([]),
  /** Below this much free disk (MB) under its scratch base it takes no new job (-minFreeDisk). */
  minFreeDisk: z.number().nonnegative().default(0),
  /** How its process jobs are kept apart: `cgroup (...)`, or `none: why`. */
  isolation: z.string().max(512).default('unknown'),
});
export type Resources = z.infer<typeof ResourcesSchema>;

/** A worker below its -minFreeDisk takes no new job (freeDisk -1: not measured). */
export function lowOnDisk(r: Pick<Resources, 'freeDisk' | 'minFreeDisk'>): boolean {
  return r.freeDisk >= 0 && r.freeDisk < (r.minFreeDisk ?? 0);
}

export const WorkerViewSchema = z.object({
  handle: z.string(),
  connected: z.boolean(),
  slots: z.number().int(),
  maxTime: z.number().nullable(),
  resources: ResourcesSchema,
  jobs: z.array(handle),
  lastSeen: z.number(),
});
export type WorkerView = z.infer<typeof WorkerViewSchema>;

/** Measurements of a running or finished job; maxima over its life. */
const measured = z.number().min(-1); // -1: not measured (yet)
export const StatsSchema = z.object({
  realTime: measured,
  userTime: measured,
  maxMem: measured,
  maxDisk: measured,
  /** Memory in use now (MB); only while running. */
  mem: measured.optional(),
});
export type Stats = z.infer<typeof StatsSchema>;

export const ResultSchema = StatsSchema.extend({
  exitCode: z.number().int(),
  exitReason: z.string().max(4096).nullable(),
});
export type Result = z.infer<typeof ResultSchema>;

/**
 * A job a worker holds, in its hello. `started`: it has begun to run here (its `started` may
 * have gone into a socket that died, so the master learns it again from this).
 */
const runningJob = z.object({ handle, lease, started: z.boolean().default(false) });

const path = z.string().min(1).max(4096);
/** A path inside a job's outPath: relative, no `..`, no empty or `.` parts. */
const relPath = path.refine((p) => !p.startsWith('/') && p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), {
  message: 'must be a relative path inside the outPath',
});

export const ManifestEntrySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('dir'), path, mode: z.number().int() }),
  z.object({ type: z.literal('file'), path, size: z.number().int().nonnegative(), mtimeMs: z.number(), mode: z.number().int() }),
  z.object({ type: z.literal('link'), path, target: z.string().max(4096) }),
]);
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;

/** What a worker needs to run a job: the spec plus its lease. */
export const AssignmentSchema = JobSpecSchema.extend({ handle, lease, attempt: z.number().int() });
export type Assignment = z.infer<typeof AssignmentSchema>;

export const ClientRequestSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('add'), id, jobs: z.array(JobSpecSchema).min(1).max(MAX_JOBS_PER_ADD) }),
  z.object({ type: z.literal('list'), id, specs }),
  // queued: also end matching jobs that have not started (they fail, exit code 143).
  z.object({ type: z.literal('kill'), id, specs, queued: z.boolean().default(false) }),
  z.object({ type: z.literal('delete'), id, specs }),
  z.object({ type: z.literal('rerun'), id, specs }),
  z.object({ type: z.literal('workers'), id }),
  z.object({
    type: z.literal('log'), id, handle: z.string().max(64), follow: z.boolean(),
    /** Only the first / last N lines (-head / -tail). */
    head: z.number().int().positive().max(1e9).optional(),
    tail: z.number().int().positive().max(1e9).optional(),
  }),
  z.object({ type: z.literal('saveState'), id }),
  z.object({ type: z.literal('shutdown'), id }),
]);
export type ClientRequest = z.infer<typeof ClientRequestSchema>;
/** A request before the connection numbers it. */
export type ClientRequestBody = ClientRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

export const WorkerMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('workerHello'),
    handle: z.string().min(1).max(256),
    slots: z.number().int().positive().max(10_000),
    maxTime: z.number().int().positive().nullable(),
    resources: ResourcesSchema,
    running: z.array(runningJob).max(10_000),
  }),
  z.object({ type: z.literal('heartbeat'), resources: ResourcesSchema }),
  z.object({ type: z.literal('started'), handle, lease }),
  z.object({ type: z.literal('progress'), handle, lease, stats: StatsSchema }),
  z.object({
    type: z.literal('output'),
    handle,
    lease,
    stream: z.enum(['stdout', 'stderr']),
    /** Where this chunk starts in its stream: a chunk sent twice is kept once. */
    offset: z.number().int().nonnegative(),
    data: z.string().max(MAX_FRAME_BYTES), // base64: output need not be text
  }),
  z.object({ type: z.literal('finished'), handle, lease, result: ResultSchema }),
  // The worker is stopping: no more jobs for it. It gives back the ones it held with release.
  // `lost` says why a job that had started cannot go on here for a cause not its own (the
  // Docker engine stopped under it): counted against its -retries, like a lost worker.
  z.object({ type: z.literal('stopping') }),
  z.object({ type: z.literal('release'), handle, lease, lost: z.string().max(1000).optional() }),
  // Files. staging: the job waits for its inputs (status init). fetch: inputs the worker
  // lacks, by submitter-side path; each comes back as inChunk frames. outDir: a directory of
  // the job's outputs (relative to its outPath); files come as outChunk frames.
  z.object({ type: z.literal('staging'), handle, lease }),
  z.object({ type: z.literal('fetch'), handle, lease, paths: z.array(path).min(1).max(10_000) }),
  z.object({ type: z.literal('outDir'), handle, lease, path: relPath }),
]);
export type WorkerMessage = z.infer<typeof WorkerMessageSchema>;

export const ErrorCodeSchema = z.string().max(64);

export const ClientResponseSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('added'), id, handles: z.array(handle) }),
  z.object({ type: z.literal('jobs'), id, jobs: z.array(JobViewSchema) }),
  z.object({ type: z.literal('affected'), id, handles: z.array(handle), matched: z.number().int() }),
  // `now`: the master's clock, which `lastSeen` is on (the client's may differ).
  z.object({ type: z.literal('workerList'), id, workers: z.array(WorkerViewSchema), now: z.number().optional() }),
  z.object({ type: z.literal('logData'), id, data: z.string() }),
  z.object({ type: z.literal('logEnd'), id, status: z.enum(JobStatuses) }),
  z.object({ type: z.literal('ok'), id, message: z.string() }),
  z.object({ type: z.literal('error'), id: id.nullable(), code: ErrorCodeSchema, message: z.string() }),
]);
export type ClientResponse = z.infer<typeof ClientResponseSchema>;

export const MasterToWorkerSchema = z.discriminatedUnion('type', [
  // drop: jobs no longer this worker's. resume: how much of each kept job's output the master
  // has; the worker sends on from there.
  z.object({
    type: z.literal('welcome'),
    drop: z.array(runningJob),
    resume: z
      .array(z.object({ lease, stdout: z.number().int().nonnegative(), stderr: z.number().int().nonnegative() }))
      .max(10_000)
      .default([]),
  }),
  z.object({ type: z.literal('assign'), job: AssignmentSchema }),
  z.object({ type: z.literal('killJob'), handle, lease, reason: z.string() }),
  z.object({ type: z.literal('resultAck'), handle, lease, applied: z.boolean() }),
  z.object({ type: z.literal('leaseGone'), handle, lease }),
  // What the job's inputs are on the master (sent in parts after assign); the worker fetches
  // the files whose size or mtime it does not have. stageError: an input cannot be read.
  z.object({ type: z.literal('manifest'), handle, lease, entries: z.array(ManifestEntrySchema).max(10_000), last: z.boolean() }),
  z.object({ type: z.literal('stageError'), handle, lease, message: z.string().max(4096) }),
  z.object({ type: z.literal('error'), id: z.null(), code: ErrorCodeSchema, message: z.string() }),
]);
export type MasterToWorker = z.infer<typeof MasterToWorkerSchema>;

export type Decoded<T> = { ok: true; msg: T } | { ok: false; error: string };

/**
 * Parses and validates one frame. Never throws. `maxBytes`: what a peer may send; only the
 * master's answers to a client (a listing of many jobs) may be larger than the usual limit.
 */
export function decode<T>(schema: z.ZodType<T>, raw: unknown, maxBytes = MAX_FRAME_BYTES): Decoded<T> {
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (Buffer.isBuffer(raw)) text = raw.toString('utf8');
  else if (Array.isArray(raw)) text = Buffer.concat(raw as Buffer[]).toString('utf8');
  else if (raw instanceof ArrayBuffer) text = Buffer.from(raw).toString('utf8');
  else return { ok: false, error: 'frame is not text' };
  if (text.length > maxBytes) return { ok: false, error: 'frame too large' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    return { ok: false, error: `invalid message${where}: ${issue?.message ?? 'unknown'}` };
  }
  return { ok: true, msg: parsed.data };
}

export function encode(msg: ClientRequest | ClientResponse | WorkerMessage | MasterToWorker): string {
  return JSON.stringify(msg);
}

// File data travels in binary frames: a 4-byte big-endian header length, the header (JSON,
// validated like every message), then the raw bytes. Base64 in JSON would cost a third more
// on the wire and a copy on each side.

/** Bytes of file data per frame. */
export const CHUNK_BYTES = 256 * 1024;

export const ChunkHeaderSchema = z.discriminatedUnion('type', [
  // master → worker: part of an input (or, realtime, of a file re-sent while the job runs),
  // by its submitter-side path.
  z.object({
    type: z.literal('inChunk'),
    handle,
    lease,
    path,
    offset: z.number().int().nonnegative(),
    eof: z.boolean(),
    mtimeMs: z.number(),
    mode: z.number().int(),
    realtime: z.boolean(),
  }),
  // worker → master: part of an output, by its path inside the outPath. append: these bytes
  // go at `offset` of the file as it is; otherwise the file is replaced once all has come.
  z.object({
    type: z.literal('outChunk'),
    handle,
    lease,
    path: relPath,
    append: z.boolean(),
    offset: z.number().int().nonnegative(),
    eof: z.boolean(),
    mtimeMs: z.number(),
    mode: z.number().int(),
  }),
]);
export type ChunkHeader = z.infer<typeof ChunkHeaderSchema>;

/**
 * Bytes a chunk header may take: a path of 4,096 UTF-16 units takes at most 6 bytes each as
 * JSON (`\u0001`), plus the other fields.
 */
export const MAX_CHUNK_HEADER_BYTES = 32 * 1024;

export function encodeChunk(header: ChunkHeader, data: Buffer): Buffer {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const frame = Buffer.allocUnsafe(4 + head.length + data.length);
  frame.writeUInt32BE(head.length, 0);
  head.copy(frame, 4);
  data.copy(frame, 4 + head.length);
  return frame;
}

/** Splits and validates a binary frame. Never throws. */
export function decodeChunk(raw: Buffer): { ok: true; header: ChunkHeader; data: Buffer } | { ok: false; error: string } {
  if (raw.length < 4) return { ok: false, error: 'binary frame too short' };
  const len = raw.readUInt32BE(0);
  if (len > MAX_CHUNK_HEADER_BYTES || 4 + len > raw.length) return { ok: false, error: 'binary frame header length is wrong' };
  const parsed = decode(ChunkHeaderSchema, raw.subarray(4, 4 + len));
  if (!parsed.ok) return parsed;
  return { ok: true, header: parsed.msg, data: raw.subarray(4 + len) };
}
