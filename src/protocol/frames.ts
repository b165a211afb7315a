// File data travels in binary frames: a 4-byte big-endian header length, the header (JSON,
// validated like every message), then the raw bytes. Base64 in JSON would cost a third more
// on the wire and a copy on each side.
import * as z from 'zod';
import { decode } from './codec.js';
import { handle, lease, path, relPath } from './fields.js';

/** Bytes of file data per frame. */
export const CHUNK_BYTES = 256 * 1024;

export const ChunkHeaderSchema = z.discriminatedUnion('type', [
  // master → worker: part of an input (or, realtime, of a file re-sent while the job runs),
  // by its submitter-side path.
  z.object({
    type: z.literal('inChunk'),
    handle,
    lease,
    path,
    offset: z.number().int().nonnegative(),
    eof: z.boolean(),
    mtimeMs: z.number(),
    mode: z.number().int(),
    realtime: z.boolean(),
  }),
  // worker → master: part of an output, by its path inside the outPath. append: these bytes
  // go at `offset` of the file as it is; otherwise the file is replaced once all has come.
  z.object({
    type: z.literal('outChunk'),
    handle,
    lease,
    path: relPath,
    append: z.boolean(),
    offset: z.number().int().nonnegative(),
    eof: z.boolean(),
    mtimeMs: z.number(),
    mode: z.number().int(),
  }),
]);
export type ChunkHeader = z.infer<typeof ChunkHeaderSchema>;

/**
 * Bytes a chunk header may take: a path of 4,096 UTF-16 units takes at most 6 bytes each as
 * JSON (`\u0001`), plus the other fields.
 */
export const MAX_CHUNK_HEADER_BYTES = 32 * 1024;

export function encodeChunk(header: ChunkHeader, data: Buffer): Buffer {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const frame = Buffer.allocUnsafe(4 + head.length + data.length);
  frame.writeUInt32BE(head.length, 0);
  head.copy(frame, 4);
  data.copy(frame, 4 + head.length);
  return frame;
}

/** Splits and validates a binary frame. Never throws. */
export function decodeChunk(raw: Buffer): { ok: true; header: ChunkHeader; data: Buffer } | { ok: false; error: string } {
  if (raw.length < 4) return { ok: false, error: 'binary frame too short' };
  const len = raw.readUInt32BE(0);
  if (len > MAX_CHUNK_HEADER_BYTES || 4 + len > raw.length) return { ok: false, error: 'binary frame header length is wrong' };
  const parsed = decode(ChunkHeaderSchema, raw.subarray(4, 4 + len));
  if (!parsed.ok) return parsed;
  return { ok: true, header: parsed.msg, data: raw.subarray(4 + len) };
}
