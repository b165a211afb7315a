// A row of `q -list` as it crosses the wire: only what the table shows, as a tuple, so that a
// listing of a million jobs costs the master and the client what the table prints, not the
// 40 fields of a job's view. The master's store writes these rows as JSON itself
// (store/jobPages.ts); every one is checked here at the client like any other message.
import * as z from 'zod';
import { handle } from './fields.js';
import { JobStatuses, type JobView } from './jobState.js';

export const ListRowSchema = z.tuple([
  handle,
  z.string().nullable(), // worker
  z.string().nullable(), // worker's hostname
  z.enum(JobStatuses),
  z.number().int().nullable(), // exit code
  z.string().nullable(), // exit reason
  z.number(), // real time, seconds (-1: not measured)
  z.number(), // peak memory, MB
  z.number(), // peak disk, MB
  z.string().nullable(), // outPath
  z.string(), // command
]);
export type ListRow = z.infer<typeof ListRowSchema>;

/** The row of a job's view (a listing answered from views: older masters, filters the store cannot answer). */
export function listRowOf(j: JobView): ListRow {
  return [j.handle, j.worker, j.workerHostname, j.status, j.exitCode, j.exitReason, j.realTime, j.maxMem, j.maxDisk, j.outPath, j.command];
}
