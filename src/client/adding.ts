// Sends an add: the jobs in batches a request can carry, under one add id, so that the master
// makes all of them or none (store/adds.ts). When the connection goes before the answer, the
// client asks a new one how the add ended and says so: all of it, or none.
import { nanoid } from 'nanoid';
import { Connection, type Target } from './connection.js';
import { ADD_BATCH, MAX_FRAME_BYTES } from '../common/limits.js';
import { ErrorCodes, QError, isQError } from '../common/errors.js';
import type { JobSpec } from '../protocol/jobSpec.js';

/** Room left in a frame for the request around the jobs. */
const FRAME_ROOM = MAX_FRAME_BYTES - 256 * 1024;
/** How long a client whose connection went tries to learn how its add ended. */
const ASK_FOR_MS = 30_000;

export interface AddFlow {
  after: string[];
  afterAny: string[];
  hold: boolean;
}

/** Batches of at most ADD_BATCH jobs and a frame's bytes (a command may be 1 MB). */
function* batches(jobs: readonly JobSpec[], room: number): Generator<JobSpec[]> {
  let batch: JobSpec[] = [];
  let bytes = 0;
  for (const j of jobs) {
    const size = Buffer.byteLength(JSON.stringify(j));
    if (batch.length && (batch.length >= ADD_BATCH || bytes + size > room)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(j);
    bytes += size;
  }
  if (batch.length) yield batch;
}

/**
 * Adds `jobs` as one add and returns their handles, in order. On a lost connection it throws
 * a QError saying whether the master made the add (every job) or not (none).
 */
export async function sendAdd(conn: Connection, where: Target, jobs: readonly JobSpec[], flow: AddFlow): Promise<string[]> {
  const addId = nanoid();
  const handles: string[] = [];
  let array: string | null = null; // the first job's handle, for the batches after the first
  let sent = 0;
  try {
    // Every batch carries -after's and -afterAny's handles too.
    for (const batch of batches(jobs, FRAME_ROOM - Buffer.byteLength(JSON.stringify(flow)))) {
      sent += batch.length;
      const last = sent === jobs.length;
      const part: JobSpec[] = array ? batch.map((j) => (j.arrayCount !== null ? { ...j, array } : j)) : batch;
      const res: { handles: string[] } = await conn.request({ type: 'add', jobs: part, ...flow, addId, last }, 'added');
      if (handles.length === 0 && jobs[0]!.arrayCount !== null) array = res.handles[0] ?? null;
      handles.push(...res.handles);
    }
    return handles;
  } catch (e) {
    if (!isQError(e) || e.code !== ErrorCodes.NO_MASTER) throw e;
    const state = await askHowItEnded(where, addId);
    const n = jobs.length;
    const of = n === 1 ? 'the job' : `the ${n} jobs`;
    if (state === 'committed') {
      throw new QError(ErrorCodes.NO_MASTER, `${e.message} after the add was made: all ${n} jobs were added (q -list shows them)`);
    }
    if (state === 'unknown') throw new QError(ErrorCodes.NO_MASTER, `${e.message}: none of ${of} was added`);
    throw new QError(ErrorCodes.NO_MASTER, `${e.message}: the master makes all of ${of} or none; q -list says which once it is back`);
  }
}

/** How add `addId` ended, asked of a new connection; null when the master cannot be reached. */
async function askHowItEnded(where: Target, addId: string): Promise<'staging' | 'committed' | 'unknown' | null> {
  const until = Date.now() + ASK_FOR_MS;
  for (let delay = 200; Date.now() < until; delay = Math.min(delay * 2, 2000)) {
    try {
      const conn = await Connection.open({ ...where, timeoutMs: Math.min(where.timeoutMs, 5000) });
      try {
        const a = await conn.request({ type: 'addState', addId }, 'addState');
        // Staging: the old connection's end has not reached the master yet; it undoes the add.
        if (a.state !== 'staging') return a.state;
      } finally {
        conn.close();
      }
    } catch {
      // not back yet
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  return null;
}
