// A worker reads the records of process jobs that an earlier version of it wrote (fixture:
// a record as written before job cgroups, which has no `cgroup` field).
import t from 'tap';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/q.js';
import { readExit, readRecord, writeRecord } from '../../src/worker/processRecord.js';

t.test('a record from before cgroups is read, without one', async (t) => {
  const dir = join(t.testdir(), 'J-abc123');
  cpSync(join(FIXTURES, 'records', 'J-abc123'), dir, { recursive: true });
  const rec = readRecord(dir);
  t.ok(rec, 'read');
  t.equal(rec!.job.handle, 'J-abc123');
  t.equal(rec!.job.lease, 'L3as3_x-9');
  t.equal(rec!.pgid, 4242);
  t.equal(rec!.cgroup, undefined, 'no cgroup: it is followed by its group as before');
  t.equal(readExit(dir), 3);
});

t.test('a record with a cgroup keeps it; a name that is not one is dropped', async (t) => {
  const dir = join(t.testdir(), 'J-abc123');
  cpSync(join(FIXTURES, 'records', 'J-abc123'), dir, { recursive: true });
  const rec = readRecord(dir)!;
  writeRecord(dir, { ...rec, cgroup: 'J-abc123-L3as3_x-9' });
  t.equal(readRecord(dir)!.cgroup, 'J-abc123-L3as3_x-9');
  writeRecord(dir, { ...rec, cgroup: '../../escape' });
  t.equal(readRecord(dir)!.cgroup, undefined);
});

t.test('a kill the worker began is kept in the record, with when its KILL is due', async (t) => {
  const dir = join(t.testdir(), 'J-abc123');
  cpSync(join(FIXTURES, 'records', 'J-abc123'), dir, { recursive: true });
  const rec = readRecord(dir)!;
  t.equal(rec.killReason, undefined, 'an older record has none');
  writeRecord(dir, { ...rec, killReason: 'Memory limit exceeded: used 152m, limit 100m * 1', killAt: 1234 });
  const again = readRecord(dir)!;
  t.equal(again.killReason, 'Memory limit exceeded: used 152m, limit 100m * 1');
  t.equal(again.killAt, 1234);
});
