// Every message that crosses a q socket is one of the discriminated unions in
// clientMessages.ts and workerMessages.ts, checked by its zod schema at the boundary. Nothing
// else is sent or accepted: `decode` turns a raw frame into a typed message or into an error
// the caller answers with, never a throw that reaches the event loop.
import { MAX_FRAME_BYTES } from '../common/limits.js';
import type { ClientRequest, ClientResponse } from './clientMessages.js';
import type { MasterToWorker, WorkerMessage } from './workerMessages.js';
import type { Checker } from './wire.js';

/** Why the master closes a socket (WebSocket close codes; 4000-4999 are the application's). */
export const CloseCodes = {
  /** The master is going away (1001, the standard's). */
  SHUTTING_DOWN: 1001,
  /** It could not record what the peer sent; the peer reconnects and sends it again (1011). */
  COULD_NOT_RECORD: 1011,
  /** A newer connection of the same worker replaced this one. */
  REPLACED: 4001,
  /** A worker spoke before its hello. */
  HELLO_FIRST: 4002,
} as const;

/** Frames larger than this are refused before parsing, so a hostile peer cannot make us buffer. */
export { MAX_FRAME_BYTES };

export type Decoded<T> = { ok: true; msg: T } | { ok: false; error: string };

/**
 * Parses and validates one frame. Never throws. `maxBytes`: what a peer may send; only the
 * master's answers to a client (a listing of many jobs) may be larger than the usual limit.
 */
export function decode<T>(schema: Checker<T>, raw: unknown, maxBytes = MAX_FRAME_BYTES): Decoded<T> {
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (Buffer.isBuffer(raw) || Array.isArray(raw) || raw instanceof ArrayBuffer) text = frameBytes(raw as Buffer | ArrayBuffer | Buffer[]).toString('utf8');
  else return { ok: false, error: 'frame is not text' };
  if (text.length > maxBytes) return { ok: false, error: 'frame too large' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    return { ok: false, error: `invalid message${where}: ${issue?.message ?? 'unknown'}` };
  }
  return { ok: true, msg: parsed.data };
}

/** A frame as ws hands it over (one buffer, several, or an ArrayBuffer), as one buffer. */
export function frameBytes(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export function encode(msg: ClientRequest | ClientResponse | WorkerMessage | MasterToWorker): string {
  return JSON.stringify(msg);
}

/**
 * A `jobRows` answer around rows the store wrote as JSON (a JSON array of ListRows), spliced
 * in rather than parsed and written again: the one answer not built from an object, and
 * checked at the client like every other.
 */
export function encodeJobRows(id: number, rowsJson: string, last: boolean): string {
  return `{"type":"jobRows","id":${id},"rows":${rowsJson},"last":${last}}`;
}
