// The worker's handle on a Docker engine (through dockerode, which speaks the Engine API over
// the socket DOCKER_HOST names, else /var/run/docker.sock). dockerode is loaded on first use,
// so workers that never see an engine do not pay for it.
import type Dockerode from 'dockerode';
import { LABELS } from './containerSpec.js';
import { FrameSplitter } from './stats.js';

/** The engine's own message for a failed call, without dockerode's HTTP framing. */
export function engineMessage(e: unknown): string {
  const err = e as { json?: { message?: string } | null; reason?: string; message?: string };
  const msg = err?.json?.message ?? err?.message ?? String(e);
  return msg.replace(/^\(HTTP code \d+\) [\w ]+ - /, '').trim();
}

export function isNotFound(e: unknown): boolean {
  return (e as { statusCode?: number })?.statusCode === 404;
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EACCES', 'EHOSTUNREACH']);

/** The engine did not answer at all (as opposed to answering with an error). */
export function isUnreachable(e: unknown): boolean {
  const err = e as { code?: string; statusCode?: number };
  return err?.statusCode === undefined && CONNECTION_ERRORS.has(err?.code ?? '');
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class DockerEngine {
  /** The engine's version when it last answered; null while it does not. */
  version: string | null = null;
  /** Why it did not answer, for the worker's log. */
  problem = '';

  private constructor(readonly api: Dockerode) {}

  static async open(): Promise<DockerEngine> {
    const { default: Docker } = await import('dockerode');
    return new DockerEngine(new Docker());
  }

  /** Asks the engine for its version; records whether it answered. */
  async probe(timeoutMs = 2000): Promise<string | null> {
    try {
      const v = await withTimeout(this.api.version(), timeoutMs, 'Docker engine');
      this.version = v.Version ?? 'unknown';
      this.problem = '';
    } catch (e) {
      this.version = null;
      this.problem = engineMessage(e);
    }
    return this.version;
  }

  /**
   * Makes sure the image is here, pulling it if not. Throws with a message naming the image
   * when it cannot be had; an engine that does not answer throws its connection error as is.
   */
  /** Makes sure the image is here (pulling it if not); returns the volumes it declares. */
  async ensureImage(image: string): Promise<string[]> {
    try {
      return volumesOf(await this.api.getImage(image).inspect());
    } catch (e) {
      if (isUnreachable(e)) throw e;
      if (!isNotFound(e)) throw new Error(`Docker image ${image}: ${engineMessage(e)}`);
    }
    try {
      const stream = await this.api.pull(image);
      // A pull that fails midway says so in a progress event, not as an error of the stream.
      await new Promise<void>((resolve, reject) => {
        this.api.modem.followProgress(stream, (err: Error | null, events: { error?: string }[] | undefined) => {
          const failed = events?.find((ev) => ev.error);
          if (err) reject(err);
          else if (failed) reject(new Error(failed.error));
          else resolve();
        });
      });
    } catch (e) {
      if (isUnreachable(e)) throw e;
      throw new Error(`Docker image ${image} is not here and pulling it failed: ${engineMessage(e)}`);
    }
    return volumesOf(await this.api.getImage(image).inspect());
  }

  /** Whether the engine answers a ping now. */
  async answers(timeoutMs = 1000): Promise<boolean> {
    try {
      await withTimeout(this.api.ping(), timeoutMs, 'Docker engine');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The signals the engine was asked to send a container since `sinceMs` (by `docker stop`,
   * `docker kill`, or its own shutdown), from its event log. Signals sent from inside the
   * container, or by the kernel, are not there. Throws when the engine does not answer.
   */
  async killSignals(id: string, sinceMs: number, timeoutMs = 5000): Promise<string[]> {
    const stream = await withTimeout<NodeJS.ReadableStream>(
      this.api.getEvents({
        since: Math.floor(sinceMs / 1000),
        until: (Date.now() / 1000).toFixed(3),
        filters: { container: [id], event: ['kill'] },
      } as unknown as Parameters<Dockerode['getEvents']>[0]),
      timeoutMs,
      'Docker engine',
    );
    const split = new FrameSplitter();
    const signals: string[] = [];
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        stream.on('data', (chunk: Buffer | string) => {
          for (const ev of split.push(chunk.toString())) {
            const signal = (ev as { Actor?: { Attributes?: { signal?: string } } }).Actor?.Attributes?.signal;
            if (signal) signals.push(signal);
          }
        });
        stream.on('end', resolve);
        stream.on('error', reject);
      }),
      timeoutMs,
      'Docker engine',
    );
    return signals;
  }

  /** Containers this worker created (running or not), found by their labels. */
  async containersOf(workerHandle: string, basePath: string): Promise<Dockerode.ContainerInfo[]> {
    const label = [`${LABELS.worker}=${workerHandle}`, `${LABELS.base}=${basePath}`];
    return this.api.listContainers({ all: true, filters: JSON.stringify({ label }) });
  }
}

/** The paths an image declares as volumes (`VOLUME`): the engine would make an anonymous volume at each. */
function volumesOf(info: Dockerode.ImageInspectInfo): string[] {
  return Object.keys(info.Config?.Volumes ?? {});
}
