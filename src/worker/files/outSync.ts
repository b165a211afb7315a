// Copies a job's outputs back to the master while it runs, and completely once it ends: the
// files and directories under its outPath that its outFiles name. `full:GLOB` sends a whole
// file whenever its size or mtime changed; `append:GLOB` sends only the bytes added since the
// last send (and the whole file again if it shrank). Files go through the worker's chunk pump,
// so a large output never sits in memory. Links are not copied.
import { join } from 'node:path';
import { outRules, ruleFor, walk, type OutRule } from '../../files/paths.js';
import type { ChunkPump } from '../../files/pump.js';
import type { Assignment, ManifestEntry, WorkerMessage } from '../../protocol/messages.js';

interface Synced {
  size: number;
  mtimeMs: number;
}

export class OutSync {
  private readonly rules: OutRule[];
  private readonly synced = new Map<string, Synced>();
  private readonly dirs = new Set<string>();
  private readonly inFlight = new Map<string, Synced>();
  private failed = false;
  private waiters: (() => void)[] = [];

  /**
   * @param root the outPath on this worker
   * @param inputs the job's staged inputs: those inside the outPath are already on the master
   */
  constructor(
    private readonly job: Assignment,
    private readonly root: string,
    private readonly pump: ChunkPump,
    private readonly send: (msg: WorkerMessage) => void,
    inputs: readonly ManifestEntry[],
  ) {
    this.rules = outRules(job.outFiles);
    const prefix = job.outPath ? job.outPath.replace(/\/*$/, '/') : null;
    for (const e of inputs) {
      if (!prefix || !e.path.startsWith(prefix)) continue;
      const rel = e.path.slice(prefix.length);
      if (e.type === 'dir') this.dirs.add(rel);
      else if (e.type === 'file') this.synced.set(rel, { size: e.size, mtimeMs: e.mtimeMs });
    }
  }

  /** Sends what changed since the last pass. */
  pass(): void {
    let entries: ManifestEntry[];
    try {
      entries = walk(this.root);
    } catch {
      return; // no outPath yet
    }
    const { handle, lease } = this.job;
    for (const e of entries) {
      if (e.path === this.root || e.type === 'link') continue;
      const rel = e.path.slice(this.root.length + 1);
      const rule = ruleFor(this.rules, rel);
      if (!rule) continue;
      if (e.type === 'dir') {
        if (!this.dirs.has(rel)) this.send({ type: 'outDir', handle, lease, path: rel });
        this.dirs.add(rel);
        continue;
      }
      if (this.inFlight.has(rel)) continue;
      const last = this.synced.get(rel);
      if (last && last.size === e.size && last.mtimeMs === e.mtimeMs) continue;
      // Appending needs what was sent to still be the start of the file.
      const append = rule.append && last !== undefined && e.size >= last.size;
      const from = append ? last!.size : 0;
      const version = { size: e.size, mtimeMs: e.mtimeMs };
      this.inFlight.set(rel, version);
      this.pump.enqueue({
        file: join(this.root, rel),
        from,
        header: (offset, eof, info) => ({ type: 'outChunk', handle, lease, path: rel, append, offset, eof, ...info }),
        done: (ok) => {
          this.inFlight.delete(rel);
          if (ok) this.synced.set(rel, version);
          else this.failed = true;
          if (this.inFlight.size === 0) for (const w of this.waiters.splice(0)) w();
        },
      });
    }
  }

  /** A last complete pass; true once everything in it reached the socket. */
  async flush(): Promise<boolean> {
    this.failed = false;
    this.pass();
    if (this.inFlight.size > 0) await new Promise<void>((r) => this.waiters.push(r));
    return !this.failed;
  }
}
