// What a worker and the master say to each other. The worker's `workerHello` comes first; then
// heartbeats, job events and results. Every job event carries the lease the master issued with
// `assign`; the master applies it only while that lease is current. The master answers with
// `welcome` (reconciliation), then `assign`, `killJob`, `resultAck`, `leaseGone`, and the
// file manifests.
import * as z from 'zod';
import { wire, type WireType } from './wire.js';
import { MAX_FRAME_BYTES } from '../common/limits.js';
import { ErrorCodeSchema } from './clientMessages.js';
import { handle, lease, path, relPath } from './fields.js';
import { AssignmentSchema, ResultSchema, StatsSchema } from './jobState.js';
import { ResourcesSchema } from './resources.js';

/**
 * A job a worker holds, in its hello. `started`: it has begun to run here (its `started` may
 * have gone into a socket that died, so the master learns it again from this).
 */
const runningJob = z.object({ handle, lease, started: z.boolean().default(false) });

export const ManifestEntrySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('dir'), path, mode: z.number().int() }),
  z.object({ type: z.literal('file'), path, size: z.number().int().nonnegative(), mtimeMs: z.number(), mode: z.number().int() }),
  z.object({ type: z.literal('link'), path, target: z.string().max(4096) }),
]);
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;

export const WorkerMessageSchema = wire(
  z.discriminatedUnion('type', [
    z.object({
      type: z.literal('workerHello'),
      handle: z.string().min(1).max(256),
      slots: z.number().int().positive().max(10_000),
      maxTime: z.number().int().nonnegative().nullable(),
      resources: ResourcesSchema,
      running: z.array(runningJob).max(10_000),
    }),
    // maxTime: the longest job it takes now (-walltime: what its remaining time allows; 0: none).
    z.object({ type: z.literal('heartbeat'), resources: ResourcesSchema, maxTime: z.number().int().nonnegative().nullable().optional() }),
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
    // leaving: for good (-lifetime, -walltime): the master forgets it once it has gone.
    z.object({ type: z.literal('stopping'), leaving: z.boolean().optional() }),
    // It emptied its basePath (-resetWorkers): how many entries went.
    z.object({ type: z.literal('scratchReset'), removed: z.number().int().nonnegative() }),
    z.object({ type: z.literal('release'), handle, lease, lost: z.string().max(1000).optional() }),
    // Files. staging: the job waits for its inputs (status init). fetch: inputs the worker
    // lacks, by submitter-side path; each comes back as inChunk frames. outDir: a directory of
    // the job's outputs (relative to its outPath); files come as outChunk frames.
    z.object({ type: z.literal('staging'), handle, lease }),
    z.object({ type: z.literal('fetch'), handle, lease, paths: z.array(path).min(1).max(10_000) }),
    z.object({ type: z.literal('outDir'), handle, lease, path: relPath }),
  ]),
);
export type WorkerMessage = WireType<typeof WorkerMessageSchema>;

export const MasterToWorkerSchema = wire(
  z.discriminatedUnion('type', [
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
    // -resetWorkers: empty the basePath (but q's own records) once no job is held.
    z.object({ type: z.literal('resetScratch') }),
    z.object({ type: z.literal('error'), id: z.null(), code: ErrorCodeSchema, message: z.string() }),
  ]),
);
export type MasterToWorker = WireType<typeof MasterToWorkerSchema>;
