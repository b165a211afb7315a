// A job as it stands: its status, what it measured, its result, the view clients get, and
// the assignment a worker runs.
import * as z from 'zod';
import { handle, lease } from './fields.js';
import { JobSpecSchema } from './jobSpec.js';

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

import { JobStatuses, type JobStatus } from './statuses.js';
export { JobStatuses, type JobStatus };

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
  /** -retry: the retries made so far, the exit codes that made them, and when the next one starts. */
  retried: z.number().int().nonnegative().default(0),
  retryCodes: z.array(z.number().int()).default([]),
  retryAt: z.number().nullable().default(null),
});
export type JobView = z.infer<typeof JobViewSchema>;

/** What a worker needs to run a job: the spec plus its lease. */
export const AssignmentSchema = JobSpecSchema.extend({ handle, lease, attempt: z.number().int() });
export type Assignment = z.infer<typeof AssignmentSchema>;
