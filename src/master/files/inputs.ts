// A job's inputs, served to the worker that holds it: first a manifest (every file,
// directory and link under its inPaths, with size and mtime), then the files the worker asks
// for. Only paths under the inPaths and realtimeInPaths of a job the asking worker holds a
// current lease for are ever read.
import { shownName } from '../../files/byteNames.js';
import { dirname } from 'node:path';
import { isCleanAbsolute, isInside, walkInput } from '../../files/paths.js';
import type { JobView } from '../../protocol/jobState.js';
import type { ManifestEntry } from '../../protocol/workerMessages.js';
import type { JobStore } from '../../store/jobs.js';
import { holds, type WorkerRegistry, type WorkerSession } from '../registry.js';
import type { Log } from '../../common/verbosity.js';

/** What serving inputs needs of the master (not the whole hub, which needs the output sink). */
export interface InputHost {
  jobs: JobStore;
  workers: WorkerRegistry;
  log: Log;
}

/** A manifest goes in parts of about this many bytes, well under the frame limit. */
const PART_BYTES = 1024 * 1024;

/** The job, if this worker holds it under this lease. */
export function heldJob(jobs: JobStore, s: WorkerSession, handle: string, lease: string): JobView | null {
  if (!holds(s, handle, lease)) return null;
  return jobs.get(handle) ?? null;
}

/** Every entry of the job's inputs; realtime inputs that do not exist yet are left out. */
export function manifestOf(job: JobView): ManifestEntry[] {
  const seen = new Map<string, ManifestEntry>();
  for (const p of job.inPaths) {
    let entries;
    try {
      entries = walkInput(p);
    } catch (e) {
      throw new Error(`cannot read input ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    for (const e of entries) seen.set(e.path, e);
  }
  for (const p of job.realtimeInPaths) {
    try {
      for (const e of walkInput(p)) seen.set(e.path, e);
    } catch {
      // not there yet: it is sent when it appears
    }
  }
  return [...seen.values()];
}

/** Answers a worker's `staging`: the manifest, in parts, or the reason there is none. */
export function sendManifest(hub: InputHost, s: WorkerSession, handle: string, lease: string): void {
  const job = heldJob(hub.jobs, s, handle, lease);
  if (!job) return; // the lease is gone; the worker hears that elsewhere
  if (!hub.jobs.markStaging(handle, lease)) return;
  let entries: ManifestEntry[];
  try {
    entries = job.shareWorkingPath ? [] : manifestOf(job);
  } catch (e) {
    hub.workers.send(s, { type: 'stageError', handle, lease, message: (e as Error).message });
    return;
  }
  // What the worker may fetch for this lease: files of this manifest, nothing else (a link
  // inside an input must not lead a fetch out of it).
  for (const l of s.inputs.keys()) if (![...s.jobs.values()].some((j) => j.lease === l)) s.inputs.delete(l);
  s.inputs.set(lease, new Set(entries.filter((e) => e.type === 'file').map((e) => e.path)));
  let part: ManifestEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    part.push(e);
    bytes += e.path.length + (e.type === 'link' ? e.target.length : 0) + 100;
    if (bytes >= PART_BYTES || part.length >= 10_000) {
      hub.workers.send(s, { type: 'manifest', handle, lease, entries: part, last: false });
      part = [];
      bytes = 0;
    }
  }
  hub.workers.send(s, { type: 'manifest', handle, lease, entries: part, last: true });
}

/** Streams the files a worker asked for; a path outside the job's inputs is refused. */
export function serveFetch(hub: InputHost, s: WorkerSession, handle: string, lease: string, paths: readonly string[]): void {
  const job = heldJob(hub.jobs, s, handle, lease);
  if (!job) return;
  const listed = s.inputs.get(lease);
  const refuse = (message: string) => void hub.workers.send(s, { type: 'stageError', handle, lease, message });
  for (const p of paths) {
    if (job.shareWorkingPath || !isCleanAbsolute(p) || !listed?.has(p)) {
      hub.log.warn(`Refused ${s.handle} a file outside the inputs of ${handle}: ${shownName(p)}`);
      return refuse(`${shownName(p)} is not an input of ${handle}`);
    }
  }
  for (const p of paths) {
    // Beneath the input it belongs to, through no link: a job on the submitter's machine
    // could swap a directory of an input for a link after the manifest listed it.
    const top = job.inPaths.filter((ip) => isInside(p, ip)).sort((a, b) => b.length - a.length)[0];
    const root = top === undefined || top === p ? dirname(p) : top;
    s.pump.enqueue({
      root,
      rel: p.slice(root.length).replace(/^\/+/, ''),
      from: 0,
      header: (offset, eof, info) => ({ type: 'inChunk', handle, lease, path: p, offset, eof, realtime: false, mtimeMs: info.mtimeMs, mode: info.mode }),
      done: (how) => {
        if (how.end === 'unreadable') refuse(`cannot read input ${shownName(p)}`);
      },
    });
  }
}
