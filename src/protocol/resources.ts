// What a worker reports of itself, and how clients see a worker.
import * as z from 'zod';
import { handle } from './fields.js';
import { ContainerPolicySchema } from './containerPolicy.js';

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
  /** What its containers may have (containerPolicy.ts); older workers: any network, any image. */
  policy: ContainerPolicySchema.default({ allowNetwork: true, allowImages: null }),
  /** The worker's q version ('' from a worker too old to say). */
  version: z.string().max(64).default(''),
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
  /** `clear` while a -resetWorkers waits for it to be idle, as fig's -w showed it. */
  pendingAction: z.string().max(64).default(''),
});
export type WorkerView = z.infer<typeof WorkerViewSchema>;
