// What a client asks the master, and its answers: a request carries an `id`, and the answer
// carries the same `id` (or is an `error`). `log` with follow streams `logData`, then `logEnd`.
import * as z from 'zod';
import { wire, type WireType } from './wire.js';
import { MAX_DEPENDENCIES, MAX_JOBS_PER_ADD } from '../common/limits.js';
import { handle, id, specs } from './fields.js';
import { JobSpecSchema } from './jobSpec.js';
import { JobStatuses, JobViewSchema } from './jobState.js';
import { ListRowSchema } from './listRow.js';
import { WorkerViewSchema } from './resources.js';
import { ErrorCodes, type ErrorCode } from '../common/errors.js';

/** An add's id: the client draws it (21 characters of nanoid). */
const addId = z.string().min(8).max(64);

/** Rows a dashboard page asks for at most. */
export const MAX_PAGE_ROWS = 500;

/** Jobs of one status in one queue ('' for none). */
export const JobCountSchema = z.object({ status: z.enum(JobStatuses), queue: z.string(), n: z.number().int() });
export type JobCount = z.infer<typeof JobCountSchema>;

/** One minute of the queue (master/queueHistory.ts): jobs waiting and running at its end, jobs finished in it. */
export const QueuePointSchema = z.object({ at: z.number(), queued: z.number().int(), running: z.number().int(), finished: z.number().int() });
export type QueuePoint = z.infer<typeof QueuePointSchema>;

export const ClientRequestSchema = wire(
  z.discriminatedUnion('type', [
    // after, afterAny: the jobs they wait for (the client resolved -after's SPECs, once for
    // every batch of one add); hold: added held. addId: the batches of one add, which is one
    // thing (store/adds.ts): none of its jobs runs, or survives a master that stops, until the
    // batch marked last has come. Without addId (a client of before) each batch stands alone.
    z.object({
      type: z.literal('add'),
      id,
      jobs: z.array(JobSpecSchema).min(1).max(MAX_JOBS_PER_ADD),
      after: z.array(handle).max(MAX_DEPENDENCIES).optional(),
      afterAny: z.array(handle).max(MAX_DEPENDENCIES).optional(),
      hold: z.boolean().optional(),
      addId: addId.optional(),
      last: z.boolean().optional(),
    }),
    // How the add of this id ended: for a client whose connection went before the answer.
    z.object({ type: z.literal('addState'), id, addId }),
    // page: the answer comes as `jobsPage`s while the master reads them (else one `jobs`);
    // rows: as `jobRows`, only what -list's table shows (a master from before answers with pages).
    z.object({ type: z.literal('list'), id, specs, page: z.boolean().optional(), rows: z.boolean().optional() }),
    // queued: also end matching jobs that have not started (they fail, exit code 143).
    z.object({ type: z.literal('kill'), id, specs, queued: z.boolean().default(false) }),
    z.object({ type: z.literal('delete'), id, specs }),
    z.object({ type: z.literal('rerun'), id, specs }),
    // -hold: ready (or waiting) jobs are not to be claimed until -release.
    z.object({ type: z.literal('hold'), id, specs }),
    // -clearWorkers: forget the workers that are away; -resetWorkers: those named (none: all
    // connected) empty their basePath once they hold no job.
    z.object({ type: z.literal('clearWorkers'), id }),
    z.object({ type: z.literal('resetWorkers'), id, handles: z.array(z.string().max(256)).max(10_000) }),
    z.object({ type: z.literal('release'), id, specs }),
    z.object({ type: z.literal('workers'), id }),
    z.object({
      type: z.literal('log'), id, handle: z.string().max(64), follow: z.boolean(),
      /** Only the first / last N lines (-head / -tail). */
      head: z.number().int().positive().max(1e9).optional(),
      tail: z.number().int().positive().max(1e9).optional(),
    }),
    z.object({ type: z.literal('saveState'), id }),
    z.object({ type: z.literal('shutdown'), id }),
    // The dashboard's: one page of -list's rows (from: where the last page ended, a cursor the
    // answer gave; newest: newest first), how many jobs SPECs match, the status counts, the
    // last hours of the queue, and (q -dashboard) a one-time code that logs a browser in.
    z.object({
      type: z.literal('rowPage'), id, specs,
      from: z.number().int().nonnegative().nullable(),
      limit: z.number().int().min(1).max(MAX_PAGE_ROWS),
      newest: z.boolean(),
    }),
    z.object({ type: z.literal('count'), id, specs }),
    z.object({ type: z.literal('counts'), id }),
    z.object({ type: z.literal('history'), id }),
    z.object({ type: z.literal('dashboardLogin'), id }),
  ]),
);
export type ClientRequest = WireType<typeof ClientRequestSchema>;
/** A request before the connection numbers it. */
export type ClientRequestBody = ClientRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

/** Error codes on the wire: the same list the CLI's errors use (common/errors.ts). */
export const ErrorCodeSchema = z.enum(Object.values(ErrorCodes) as [ErrorCode, ...ErrorCode[]]);

export const ClientResponseSchema = wire(
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('added'), id, handles: z.array(handle) }),
    // unknown: never seen, undone (its client went before its last batch), or over a day old.
    z.object({ type: z.literal('addState'), id, state: z.enum(['staging', 'committed', 'unknown']), jobs: z.number().int().nonnegative() }),
    z.object({ type: z.literal('jobs'), id, jobs: z.array(JobViewSchema) }),
    // One page of a paged listing, in table order; `last` on the final one (which may be empty).
    z.object({ type: z.literal('jobsPage'), id, jobs: z.array(JobViewSchema), last: z.boolean() }),
    // The same, for `rows`: the table's rows, in table order.
    z.object({ type: z.literal('jobRows'), id, rows: z.array(ListRowSchema), last: z.boolean() }),
    z.object({ type: z.literal('affected'), id, handles: z.array(handle), matched: z.number().int() }),
    // `now`: the master's clock, which `lastSeen` is on (the client's may differ).
    // autoscale: what -autoscale last did and why (a master with it).
    z.object({ type: z.literal('workerList'), id, workers: z.array(WorkerViewSchema), now: z.number().optional(), autoscale: z.string().optional() }),
    z.object({ type: z.literal('logData'), id, data: z.string() }),
    // `deleted`: the job followed was deleted under it.
    z.object({ type: z.literal('logEnd'), id, status: z.enum([...JobStatuses, 'deleted']) }),
    z.object({ type: z.literal('ok'), id, message: z.string() }),
    // next: the cursor of the page after this one, null after the last.
    z.object({ type: z.literal('rowPage'), id, rows: z.array(ListRowSchema), next: z.number().int().nullable() }),
    z.object({ type: z.literal('count'), id, n: z.number().int().nonnegative() }),
    z.object({ type: z.literal('counts'), id, counts: z.array(JobCountSchema) }),
    z.object({ type: z.literal('history'), id, points: z.array(QueuePointSchema) }),
    z.object({ type: z.literal('loginCode'), id, code: z.string(), expiresInS: z.number().int() }),
    z.object({ type: z.literal('error'), id: id.nullable(), code: ErrorCodeSchema, message: z.string() }),
  ]),
);
export type ClientResponse = WireType<typeof ClientResponseSchema>;
