// What a submitter asks of a job, with the defaults in one place: the client, dispatch-q, the
// bench and the tests build specs with makeJobSpec, and the store fills fields that rows
// stored before them lack from JOB_SPEC_DEFAULTS.
import * as z from 'zod';
import { MAX_COMMAND_BYTES, MAX_DEPENDENCIES, MAX_RETRY, MAX_RETRY_DELAY_S } from '../common/limits.js';
import { handle } from './fields.js';
import { DEFAULT_LOG_LIMIT_MB, MAX_LOG_LIMIT_MB } from '../common/logLimit.js';

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
  /** Times a failed command (non-zero exit; not a kill, not a limit) is run again (-retry). */
  retry: z.number().int().nonnegative().max(MAX_RETRY).default(0),
  /** Seconds before the first retry; each next one waits twice as long, up to an hour (-retryDelay). */
  retryDelay: z.number().positive().max(MAX_RETRY_DELAY_S).default(10),
  /** Jobs added together (-numTimes, -add -): its place among them (Q_INDEX), how many (Q_COUNT). */
  arrayIndex: z.number().int().nonnegative().nullable().default(null),
  arrayCount: z.number().int().positive().nullable().default(null),
  /** The handle of the first of them (Q_ARRAY; `-list array:J-…`); the master sets it for the first batch. */
  array: handle.nullable().default(null),
  /** Jobs it runs after, each done with exit code 0 (-after; the master resolves SPECs to these). */
  after: z.array(handle).max(MAX_DEPENDENCIES).default([]),
  /** Jobs it runs after once they have ended, whatever the outcome (-afterAny). */
  afterAny: z.array(handle).max(MAX_DEPENDENCIES).default([]),
});
export type JobSpec = z.infer<typeof JobSpecSchema>;

/** Every field's default but the two a job must say: its command and where it was submitted. */
export const JOB_SPEC_DEFAULTS = {
  priority: 5,
  time: 48 * 3600, // s
  mem: 1536, // MB
  memGrace: 1,
  disk: 10 * 1024, // MB
  tags: [],
  workerHandle: null,
  shareWorkingPath: false,
  inPaths: [],
  realtimeInPaths: [],
  outPath: null,
  outFiles: [],
  doneHook: null,
  failedHook: null,
  dockerImage: null,
  cpus: null,
  gpus: 0,
  network: false,
  queue: null,
  cidFile: null,
  retries: 1,
  logLimit: DEFAULT_LOG_LIMIT_MB,
  retry: 0,
  retryDelay: 10,
  arrayIndex: null,
  arrayCount: null,
  array: null,
  after: [],
  afterAny: [],
} as const satisfies Omit<JobSpec, 'command' | 'workingPath'>;

/** A whole spec from what differs from the defaults. */
export function makeJobSpec(fields: Pick<JobSpec, 'command' | 'workingPath'> & Partial<JobSpec>): JobSpec {
  return { ...JOB_SPEC_DEFAULTS, tags: [], inPaths: [], realtimeInPaths: [], outFiles: [], after: [], afterAny: [], ...fields };
}
