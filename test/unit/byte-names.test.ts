import t from 'tap';
import { randomBytes } from 'node:crypto';
import { decodeName, encodeName, hasEscapes, shownName, toFsPath } from '../../src/files/byteNames.js';

t.test('a name that is not UTF-8 round-trips through a string, and through JSON', async (t) => {
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]); // caf\351.txt
  const s = decodeName(latin1);
  t.ok(hasEscapes(s));
  t.equal(shownName(s), 'caf\\351.txt', 'shown as ls -b shows it');
  t.same(encodeName(s), latin1);
  t.same(encodeName(JSON.parse(JSON.stringify(s)) as string), latin1, 'JSON keeps the escape');
  t.ok(/^[\x20-\x7e]*$/.test(JSON.stringify(s)), 'JSON writes it as an ASCII escape');
  t.same(toFsPath(`dir/${s}`), Buffer.concat([Buffer.from('dir/'), latin1]));
});

t.test('valid UTF-8 stays itself, the replacement character and astral ones included', async (t) => {
  for (const name of ['plain.txt', 'café.txt', 'a\ufffdb', '😀 \u{10080}', '']) {
    const s = decodeName(Buffer.from(name));
    t.equal(s, name);
    t.notOk(hasEscapes(s), `${JSON.stringify(name)} holds no escape`);
    t.equal(toFsPath(s), name, 'passed to the file system as the string');
  }
});

t.test('overlong forms, surrogates, stray continuation bytes and truncated sequences are escaped byte by byte', async (t) => {
  for (const bytes of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xff, 0xfe], [0x61, 0xf0, 0x9f, 0x98]]) {
    const b = Buffer.from(bytes);
    t.same(encodeName(decodeName(b)), b, Buffer.from(bytes).toString('hex'));
  }
});

t.test('any bytes round-trip', async (t) => {
  let escaped = 0;
  for (let i = 0; i < 2000; i++) {
    const b = randomBytes(1 + (i % 40));
    const s = decodeName(b);
    if (hasEscapes(s)) escaped++;
    if (!encodeName(s).equals(b)) return void t.fail(`${b.toString('hex')} did not round-trip`);
  }
  t.ok(escaped > 1000, 'most random names needed escapes');
});
