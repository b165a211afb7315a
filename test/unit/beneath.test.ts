// Paths beneath a trusted directory: no link is followed in any part, whichever part it is,
// and a directory swapped for a link after it was opened changes nothing.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { DirChain, LinkRefused, openDirBeneath, openFileBeneath, walkBeneath } from '../../src/files/beneath.js';
import { ChunkWriter } from '../../src/files/writer.js';

function tree(t: { testdir(): string }) {
  const dir = t.testdir();
  const base = join(dir, 'base');
  const outside = join(dir, 'outside');
  mkdirSync(join(base, 'a/b/c'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'SECRET');
  return { base, outside };
}

t.test('a link in any part of the path is refused, making or opening', async (t) => {
  const { base, outside } = tree(t);
  symlinkSync(outside, join(base, 'a/b/link'));
  symlinkSync(outside, join(base, 'top'));
  for (const rel of ['top', 'top/x', 'a/b/link', 'a/b/link/x/y']) {
    t.throws(() => openDirBeneath(base, rel, { create: true }), LinkRefused, `${rel}: refused`);
  }
  t.throws(() => openFileBeneath(base, 'a/b/link/secret', constants.O_RDONLY), LinkRefused);
  t.throws(() => openFileBeneath(base, 'top', constants.O_RDONLY), /ELOOP/, 'a last part that is a link is not opened');
  t.throws(() => openDirBeneath(base, '../outside'), /no \. or \.\. parts/);
  t.notOk(existsSync(join(outside, 'x')), 'nothing was made outside');
  const d = openDirBeneath(base, 'a/b/c/new/deeper', { create: true });
  d.close();
  t.ok(existsSync(join(base, 'a/b/c/new/deeper')), 'missing real directories are made');
});

t.test('an open directory stays itself when its path is swapped for a link', async (t) => {
  const { base, outside } = tree(t);
  const d = openDirBeneath(base, 'a/b');
  renameSync(join(base, 'a'), join(base, 'moved'));
  symlinkSync(outside, join(base, 'a'));
  writeFileSync(d.child('written'), 'x');
  d.close();
  t.ok(existsSync(join(base, 'moved/b/written')), 'the write went into the directory that was checked');
  t.notOk(existsSync(join(outside, 'b')), 'not through the link');
});

t.test('a walk lists links as links and never lists through one', async (t) => {
  const { base, outside } = tree(t);
  writeFileSync(join(base, 'a/f'), 'hello');
  symlinkSync(outside, join(base, 'a/b/link'));
  const entries = walkBeneath(base, 'a');
  const paths = entries.map((e) => `${e.type}:${e.path.slice(base.length + 1)}`).sort();
  t.same(paths, ['dir:a', 'dir:a/b', 'dir:a/b/c', 'file:a/f', 'link:a/b/link']);
  t.throws(() => walkBeneath(base, 'a', 3), /holds more than 3 entries/, 'no silent limit');
  symlinkSync(outside, join(base, 'l'));
  t.throws(() => walkBeneath(base, 'l'), LinkRefused, 'a start that is a link is refused');
});

t.test('a chain of directories is reused in walk order and closed', async (t) => {
  const { base } = tree(t);
  const chain = new DirChain(base, { create: true });
  const first = chain.dir('a/b/c');
  t.equal(chain.dir('a/b/c'), first, 'the same directory is not opened again');
  writeFileSync(chain.dir('a/x/y').child('f'), '1');
  chain.close();
  t.equal(readFileSync(join(base, 'a/x/y/f'), 'utf8'), '1');
});

t.test('a chunk writer makes real directories and refuses a link in any of them', async (t) => {
  const { base, outside } = tree(t);
  const w = new ChunkWriter();
  const chunk = { append: false, offset: 0, eof: true, mtimeMs: Date.now(), mode: 0o644, data: Buffer.from('data') };
  w.write(base, 'new/dir/file', chunk);
  t.equal(readFileSync(join(base, 'new/dir/file'), 'utf8'), 'data');
  symlinkSync(outside, join(base, 'a/link'));
  t.throws(() => w.write(base, 'a/link/file', chunk), LinkRefused);
  symlinkSync(join(outside, 'secret'), join(base, 'a/target'));
  w.write(base, 'a/target', chunk);
  t.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'SECRET', 'a link at the target is replaced, not written through');
  w.closeAll();
});

t.test('a named pipe where a file is written is an error, not a worker stuck on it', async (t) => {
  const { base } = tree(t);
  spawnSync('mkfifo', [join(base, 'a/.in.q-part'), join(base, 'a/log')]);
  const w = new ChunkWriter();
  const chunk = { append: false, offset: 0, eof: true, mtimeMs: Date.now(), mode: 0o644, data: Buffer.from('data') };
  w.write(base, 'a/in', chunk);
  t.equal(readFileSync(join(base, 'a/in'), 'utf8'), 'data', 'a pipe at the part name is replaced');
  t.throws(() => w.write(base, 'a/log', { ...chunk, append: true }), /ENXIO|not a regular file/, 'a pipe at an appended file is refused');
  w.closeAll();
});

t.test('a walk of many directories holds one descriptor per level', async (t) => {
  const { base } = tree(t);
  for (let i = 0; i < 300; i++) mkdirSync(join(base, 'wide', `d${i}`), { recursive: true });
  const before = readdirSync('/proc/self/fd').length;
  const entries = walkBeneath(base, 'wide');
  t.equal(entries.length, 301);
  t.equal(readdirSync('/proc/self/fd').length, before, 'every descriptor closed');
});

