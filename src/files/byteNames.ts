// File names are bytes; q's paths are strings. A name that is not UTF-8 (`caf\351.txt`, from a
// Latin-1 program) is carried as a string by the scheme Python calls surrogateescape: each
// byte that is not part of valid UTF-8 becomes the lone surrogate U+DC80..U+DCFF, which no
// valid UTF-8 can produce. The string survives JSON (JSON.stringify writes lone surrogates as
// \udcXX escapes), globs and joins, and turns back into the very bytes at the file system
// (toFsPath). Decoding a name as plain UTF-8 instead replaces such bytes with U+FFFD: the name
// then names nothing, and what it held was skipped as "gone".

/** Lone escape surrogates (the u flag keeps a valid surrogate pair one code point, unmatched). */
const ESCAPED = /[\udc80-\udcff]/u;
const ESCAPED_ALL = /[\udc80-\udcff]/gu;

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there starts none. */
function sequenceAt(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // a surrogate, which UTF-8 may not hold
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0; // overlong
    if (c === 0xf4 && c1 >= 0x90) return 0; // past U+10FFFF
    return 4;
  }
  return 0;
}

/** A name read as bytes, as q's string for it: UTF-8, with each other byte escaped. */
export function decodeName(bytes: Buffer): string {
  const plain = bytes.toString('utf8');
  // The common case: valid UTF-8 decodes to a string that encodes back to the same bytes.
  if (!plain.includes('\ufffd') || Buffer.from(plain).equals(bytes)) return plain;
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const n = sequenceAt(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]!);
      i++;
    } else {
      out += bytes.toString('utf8', i, i + n);
      i += n;
    }
  }
  return out;
}

/** Whether `s` holds an escaped byte (and must reach the file system as bytes). */
export function hasEscapes(s: string): boolean {
  return ESCAPED.test(s);
}

/** The bytes of a path q holds as a string: what it names on disk. */
export function encodeName(s: string): Buffer {
  if (!hasEscapes(s)) return Buffer.from(s);
  const parts: Buffer[] = [];
  let run = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xdc80 && cp <= 0xdcff) {
      if (run) parts.push(Buffer.from(run));
      run = '';
      parts.push(Buffer.of(cp - 0xdc00));
    } else run += ch;
  }
  if (run) parts.push(Buffer.from(run));
  return Buffer.concat(parts);
}

/** A path for a file system call: the string itself, or its bytes when it holds an escape. */
export function toFsPath(s: string): string | Buffer {
  return hasEscapes(s) ? encodeName(s) : s;
}

/** A path for a message: each escaped byte as `\NNN` (octal, as `ls -b` shows it). */
export function shownName(s: string): string {
  return s.replace(ESCAPED_ALL, (ch) => `\\${(ch.charCodeAt(0) - 0xdc00).toString(8)}`);
}
