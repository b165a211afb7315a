// A chunk frame's header holds any path the schema allows, however long and however it
// escapes as JSON: a header cut short was a corrupt frame that still counted as sent.
import t from 'tap';
import { writeHeader } from '../../src/files/pump.js';
import { CHUNK_BYTES, decodeChunk, MAX_CHUNK_HEADER_BYTES, type ChunkHeader } from '../../src/protocol/frames.js';

const header = (path: string): ChunkHeader => ({
  type: 'inChunk', handle: 'J-abc123', lease: 'L'.repeat(64), path, offset: 123456789, eof: false,
  mtimeMs: 1_700_000_000_000.5, mode: 0o644, realtime: false,
});

for (const [what, path] of [
  ['control characters (6 bytes each as JSON)', '/' + '\u0001'.repeat(4095)],
  ['three-byte characters', '/' + '€'.repeat(4095)],
  ['lone surrogates', '/' + '\ud800'.repeat(4095)],
] as const) {
  t.test(`a 4,096-character path of ${what} fits and reads back`, async (t) => {
    const frame = Buffer.alloc(4 + MAX_CHUNK_HEADER_BYTES + CHUNK_BYTES);
    const start = writeHeader(frame, header(path));
    frame.write('data', start);
    const got = decodeChunk(frame.subarray(0, start + 4));
    t.ok(got.ok, got.ok ? 'decoded' : got.error);
    if (got.ok) {
      t.equal(got.header.type === 'inChunk' && got.header.path, path);
      t.equal(got.data.toString(), 'data');
    }
  });
}
