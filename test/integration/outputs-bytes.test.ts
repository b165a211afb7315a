// Names are bytes: outputs and inputs whose names are not UTF-8 arrive under the very same
// bytes (before, they were skipped as "gone" and the job ended done 0).
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../helpers/q.js';

const bytes = (...parts: (string | number[] | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const names = (dir: Buffer) => readdirSync(dir, { encoding: 'buffer' }).map((n) => n.toString('hex')).sort();

t.test('outputs and inputs named in Latin-1 arrive byte for byte', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w');
  const exp = join(c.dir, 'exp');
  mkdirSync(exp);
  const made = c.add(['-outPath', 'out', '-outFiles', 'full:*', '-add',
    `printf latin > "out/caf$(printf '\\351').txt" && mkdir "out/d$(printf '\\377')" && printf deep > "out/d$(printf '\\377')/x.txt" && printf plain > out/plain.txt`], { cwd: exp });
  const r = await c.waitForStatus(made, ['done', 'failed'], 30_000);
  t.equal(`${r.status} ${r.exitReason}`, 'done ', 'the job ended done');
  const out = Buffer.from(join(exp, 'out'));
  const cafe = bytes('caf', [0xe9], '.txt');
  const d = bytes('d', [0xff]);
  t.same(names(out), [cafe, d, Buffer.from('plain.txt')].map((b) => b.toString('hex')).sort(), 'every name, as bytes');
  t.equal(readFileSync(bytes(out.toString(), '/', cafe)).toString(), 'latin');
  t.equal(readFileSync(bytes(out.toString(), '/', d, '/x.txt')).toString(), 'deep');

  // An input directory holding such a name: the job sees both of its files.
  const input = join(exp, 'in');
  mkdirSync(input);
  writeFileSync(bytes(input, '/', cafe), 'in-latin\n');
  writeFileSync(join(input, 'plain.txt'), 'in-plain\n');
  const reader = c.add(['-inPaths', 'in', '-add', 'ls in | wc -l; cat in/*'], { cwd: exp });
  const rr = await c.waitForStatus(reader, ['done', 'failed'], 30_000);
  t.equal(rr.status, 'done');
  t.equal(c.q(['-log', reader]).stdout, '2\nin-latin\nin-plain\n', 'both inputs, with their bytes');
});
