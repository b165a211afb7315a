// Outputs named by `-outFiles full:` are followed on the master's side as CodaLab's `cl run -t`
// follows a bundle's stdout: it opens the file once, as soon as it exists, and reads what is
// appended to it. A file that only grows is appended to in place (same inode); one that changed
// before its end is replaced whole, at the latest by the last copy before the result.
import t from 'tap';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitFor } from '../helpers/q.js';

t.test('a reader that opened the copy once sees every line as it comes, and the copy keeps its inode', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w');
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  const h = c.add(['-outPath', 'out', '-outFiles', 'full:*', '-add', 'exec >out/stdout; for i in 1 2 3 4 5 6; do echo line $i; sleep 1; done'], { cwd: exp });
  const path = join(exp, 'out', 'stdout');
  await waitFor('the copy to exist', () => existsSync(path), 10_000, 20);
  t.equal(c.row(h)?.status, 'running', 'the copy exists while the job runs');
  const fd = openSync(path, 'r');
  t.teardown(() => closeSync(fd));
  const ino = statSync(path).ino;
  let seen = '';
  const buf = Buffer.alloc(65536);
  const readNew = () => {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) seen += buf.toString('utf8', 0, n);
  };
  const linesWhileRunning = new Set<number>();
  await waitFor(`${h} to end`, () => {
    readNew();
    if (c.row(h)?.status === 'running') linesWhileRunning.add(seen.split('\n').length - 1);
    return c.row(h)?.status === 'done';
  }, 20_000, 250);
  readNew();
  t.equal(seen, [1, 2, 3, 4, 5, 6].map((i) => `line ${i}\n`).join(''), 'every line, in order, through the one open file');
  t.ok(linesWhileRunning.size >= 3, `lines arrived while it ran (counts seen: ${[...linesWhileRunning].join(',')})`);
  t.equal(statSync(path).ino, ino, 'the same file all along');
});

t.test("a short job's output is on the master from its start", async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w');
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  const h = c.add(['-outPath', 'out', '-outFiles', 'full:*', '-add', ': >out/stdout; echo started >out/stderr; sleep 3'], { cwd: exp });
  await waitFor('both files on the master', () => existsSync(join(exp, 'out', 'stdout')) && existsSync(join(exp, 'out', 'stderr')), 10_000, 20);
  t.equal(c.row(h)?.status, 'running', 'while it runs');
  t.equal(readFileSync(join(exp, 'out', 'stdout'), 'utf8'), '', 'the empty one too');
});

t.test('a file that changed before its old end is replaced whole; one that shrank too', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w');
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  // 20,000 bytes, copied; then byte 100 changes and more is appended, and the job ends at
  // once: the last copy's pass appends (the last bytes before the old end are as sent), and
  // its check of the whole file finds the change.
  const cmd = [
    "head -c 20000 /dev/zero | tr '\\0' a > out/big",
    'head -c 3000 /dev/zero > out/small; echo keep > out/same',
    'sleep 2.5',
    'printf b | dd of=out/big bs=1 seek=100 conv=notrunc 2>/dev/null',
    'echo more >> out/big',
    'head -c 10 /dev/zero > out/small',
  ].join('; ');
  const h = c.add(['-outPath', 'out', '-outFiles', 'full:*', '-add', cmd], { cwd: exp });
  const big = join(exp, 'out', 'big');
  await waitFor('the first copy', () => existsSync(big) && statSync(big).size === 20000, 10_000, 50);
  const before = statSync(join(exp, 'out', 'same')).ino;
  const r = await c.waitForStatus(h, ['done', 'failed'], 20_000);
  t.equal(r.status, 'done', r.exitReason);
  const want = 'a'.repeat(100) + 'b' + 'a'.repeat(19899) + 'more\n';
  t.equal(readFileSync(big, 'utf8'), want, 'the change before the old end arrived');
  t.equal(readFileSync(join(exp, 'out', 'small')).length, 10, 'the shrunk one is its new self');
  t.equal(statSync(join(exp, 'out', 'same')).ino, before, 'an unchanged file is not sent again');
});
