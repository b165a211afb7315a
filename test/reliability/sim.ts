// Simulated workers for the load and fuzz tests: real WebSocket clients speaking the worker
// protocol from inside the test process, so hundreds of them cost one process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { decode, encode } from '../../src/protocol/codec.js';
import { MasterToWorkerSchema, type MasterToWorker, type WorkerMessage } from '../../src/protocol/workerMessages.js';
import { ResourcesSchema } from '../../src/protocol/resources.js';

export function tokenOf(state: string): string {
  return readFileSync(join(state, 'token'), 'utf8').trim();
}

export const RESOURCES = ResourcesSchema.parse({
  hostname: 'sim', cpus: 64, cpuSpeed: 1000, freeMem: 1_000_000, freeDisk: 1_000_000, busyProcesses: [],
  docker: null, bare: true, gpus: 0, queues: [],
});

export function open(port: number, token: string, role: 'worker' | 'client'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
    headers: { authorization: `Bearer ${token}`, 'x-q-role': role },
    maxPayload: 64 * 1024 * 1024,
  });
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** A worker that finishes every job it is given at once, counting what it ran. */
export class SimWorker {
  ws!: WebSocket;
  readonly ran = new Map<string, number>();

  constructor(
    readonly handle: string,
    private readonly slots: number,
  ) {}

  private send(m: WorkerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(encode(m));
  }

  async connect(port: number, token: string): Promise<void> {
    this.ws = await open(port, token, 'worker');
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const d = decode(MasterToWorkerSchema, data);
      if (d.ok) this.on(d.msg);
    });
    this.send({ type: 'workerHello', handle: this.handle, slots: this.slots, maxTime: null, resources: RESOURCES, running: [] });
  }

  private on(m: MasterToWorker): void {
    if (m.type !== 'assign') return;
    const { handle, lease } = m.job;
    this.ran.set(handle, (this.ran.get(handle) ?? 0) + 1);
    this.send({ type: 'started', handle, lease });
    this.send({ type: 'finished', handle, lease, result: { exitCode: 0, exitReason: null, realTime: 0, userTime: 0, maxMem: 1, maxDisk: -1 } });
  }

  close(): void {
    this.ws?.terminate();
  }
}
