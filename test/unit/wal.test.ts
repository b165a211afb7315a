// The database stays healthy under load: the WAL file is bounded (cut back after the
// checkpoints SQLite makes by itself), and -saveState's checkpoint empties it.
import t from 'tap';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';

const walSize = (path: string) => statSync(`${path}-wal`).size;

t.test('a big add grows the WAL; the load after it brings it back under the limit', async (t) => {
  const path = join(t.testdir(), 'q.db');
  const LIMIT = 1024 * 1024;
  const jobs = new JobStore(openDb(path, { walSizeLimit: LIMIT }));
  const spec = makeJobSpec({ command: 'echo a fairly long command line to fill pages', workingPath: '/tmp' });
  jobs.insert(Array.from({ length: 30_000 }, () => spec), 0);
  const after = walSize(path);
  t.ok(after > 4 * LIMIT, `one big transaction: the WAL holds it (${after} bytes)`);
  // Constant load: small writes, each its own commit, as a busy master makes them.
  const handles = jobs.insert(Array.from({ length: 2000 }, () => spec), 0);
  for (let round = 0; round < 3; round++) for (const h of handles) jobs.setLogDropped(h, round);
  t.ok(walSize(path) <= 2 * LIMIT, `under load the WAL stays bounded (${walSize(path)} bytes)`);
  jobs.checkpoint();
  t.equal(walSize(path), 0, '-saveState: folded in and emptied');
});
