// realtimeInPaths: files the master re-sends to a running job whenever they change on its
// side. CodaLab delivers `kill` this way: it writes the word into DIR/UUID.action, and the
// job's own script, watching its copy, stops its container.
//
// A tick a second stats the realtime paths of every running job held by a connected worker
// and streams the ones whose size or mtime changed since they were last sent. Jobs that are
// still staging are left to their manifest.
import { lstatSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Hub } from '../hub.js';

export const REALTIME_MS = 1000;

interface Watched {
  lease: string;
  /** What was sent went into this socket; a new connection starts afresh. */
  socket: unknown;
  paths: string[];
  running: boolean;
  /** path → `size:mtime` last sent */
  sent: Map<string, string>;
}

export class RealtimeFeed {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly hub: Hub) {}

  tick(): void {
    const live = new Set<string>();
    for (const s of this.hub.workers.connected()) {
      for (const [handle, held] of s.jobs) {
        let w = this.watched.get(handle);
        if (!w || w.lease !== held.lease || w.socket !== s.socket) {
          const job = this.hub.jobs.get(handle);
          if (!job) continue;
          w = { lease: held.lease, socket: s.socket, paths: job.shareWorkingPath ? [] : job.realtimeInPaths, running: false, sent: new Map() };
          this.watched.set(handle, w);
        }
        live.add(handle);
        if (w.paths.length === 0) continue;
        w.running ||= this.hub.jobs.leaseOf(handle)?.status === 'running';
        if (!w.running) continue;
        for (const p of w.paths) {
          let st;
          try {
            st = lstatSync(p); // a link is not followed (the pump would refuse it anyway)
          } catch {
            continue;
          }
          const version = `${st.size}:${Math.trunc(st.mtimeMs)}`;
          if (!st.isFile() || w.sent.get(p) === version) continue;
          w.sent.set(p, version);
          const lease = held.lease;
          s.pump.enqueue({
            root: dirname(p),
            rel: basename(p),
            from: 0,
            header: (offset, eof, info) => ({ type: 'inChunk', handle, lease, path: p, offset, eof, realtime: true, mtimeMs: info.mtimeMs, mode: info.mode }),
            done: (how) => {
              if (how.end !== 'sent') w.sent.delete(p); // try again next tick
            },
          });
        }
      }
    }
    for (const handle of this.watched.keys()) if (!live.has(handle)) this.watched.delete(handle);
  }
}
