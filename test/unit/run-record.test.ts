// A worker reads the run records that earlier versions of it wrote, of both kinds, and takes
// those runs back. Fixtures: records/J-abc123 is a process record from before job cgroups;
// records-v1/ holds the layout this one replaces (process.json + exit; job.json + sent.json +
// kill.json), as the previous version wrote them.
import t from 'tap';
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/q.js';
import { AdoptedRun } from '../../src/worker/adoptedRun.js';
import { systemClock } from '../../src/common/clock.js';
import { clearRunRecord, readExit, readRunRecord, writeRunRecord, RUN_FILE } from '../../src/worker/runRecord.js';
import { runRoot } from '../../src/worker/jobFiles.js';

function copy(t: { testdir(): string }, from: string, handle: string): string {
  const dir = join(t.testdir(), handle);
  cpSync(join(FIXTURES, from, handle), dir, { recursive: true });
  return dir;
}

t.test('a process record from before cgroups is read, without one', async (t) => {
  const dir = copy(t, 'records', 'J-abc123');
  const rec = readRunRecord(dir);
  t.ok(rec, 'read');
  t.equal(rec!.kind, 'process');
  t.equal(rec!.job.handle, 'J-abc123');
  t.equal(rec!.job.lease, 'L3as3_x-9');
  t.equal(rec!.shell!.pgid, 4242);
  t.equal(rec!.shell!.cgroup, undefined, 'no cgroup: it is followed by its group as before');
  t.equal(rec!.kill, undefined);
  t.equal(readExit(dir), 3);
});

t.test("the previous version's process record: its cgroup and the kill it began", async (t) => {
  const dir = copy(t, join('records-v1', 'process'), 'J-abc124');
  const rec = readRunRecord(dir)!;
  t.equal(rec.kind, 'process');
  t.equal(rec.job.lease, 'Lproc_v1-2');
  t.equal(rec.shell!.cgroup, 'J-abc124-Lproc_v1-2');
  t.same(rec.kill, { reason: 'Memory limit exceeded: used 152m, limit 100m * 1', at: 1764582005000 });
  t.equal(readExit(dir), 137);
});

t.test("the previous version's container records: job.json with the kill of its lease", async (t) => {
  const dir = copy(t, join('records-v1', 'container'), 'J-abc125');
  const rec = readRunRecord(dir)!;
  t.equal(rec.kind, 'container');
  t.equal(rec.job.handle, 'J-abc125');
  t.equal(rec.job.dockerImage, 'q-test-busybox');
  t.equal(rec.kill?.reason, 'Killed by server request');
  t.equal(rec.shell, undefined);
});

t.test('one record of either kind round-trips through run.json, and replaces the old files when cleared', async (t) => {
  const dir = copy(t, join('records-v1', 'container'), 'J-abc125');
  const old = readRunRecord(dir)!;
  writeRunRecord(dir, { ...old, kill: { reason: 'Time limit exceeded: ran 2.0s, limit 1s', at: 99 } });
  const again = readRunRecord(dir)!;
  t.equal(again.kind, 'container');
  t.same(again.kill, { reason: 'Time limit exceeded: ran 2.0s, limit 1s', at: 99 }, 'run.json wins over the old files');
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'written by rename: no temporary file is left');
  clearRunRecord(dir);
  t.same(readdirSync(dir), [], 'the old layout goes with it');
  t.equal(readRunRecord(dir), null);
});

t.test('a cgroup name that is not a run name is dropped; a process record without its shell is refused', async (t) => {
  const dir = copy(t, join('records-v1', 'process'), 'J-abc124');
  const rec = readRunRecord(dir)!;
  writeRunRecord(dir, { ...rec, shell: { ...rec.shell!, cgroup: '../../escape' } });
  t.equal(readRunRecord(dir)!.shell!.cgroup, undefined);
  writeRunRecord(dir, { kind: 'process', job: rec.job, startedAt: rec.startedAt });
  t.equal(readRunRecord(dir), null);
});

t.test("a worker restarted onto the previous version's records takes the process runs back", async (t) => {
  const base = t.testdir();
  const jobs = join(base, '.q', 'jobs');
  mkdirSync(jobs, { recursive: true });
  cpSync(join(FIXTURES, 'records', 'J-abc123'), join(jobs, 'J-abc123'), { recursive: true });
  cpSync(join(FIXTURES, 'records-v1', 'process', 'J-abc124'), join(jobs, 'J-abc124'), { recursive: true });
  cpSync(join(FIXTURES, 'records-v1', 'container', 'J-abc125'), join(jobs, 'J-abc125'), { recursive: true });
  const runs = AdoptedRun.findAll({ basePath: base, killGraceMs: 1000, clock: systemClock, cgroups: null });
  t.same(runs.map((r) => r.job.handle).sort(), ['J-abc123', 'J-abc124'], 'both process runs; the container is not a process');
  // Their shells are long gone (another boot): each ends with the status its shell wrote.
  const results = await Promise.all(runs.map((r) => r.result));
  const byHandle = new Map(runs.map((r, i) => [r.job.handle, results[i]!]));
  t.equal(byHandle.get('J-abc123')!.exitCode, 3);
  t.equal(byHandle.get('J-abc123')!.exitReason, null);
  t.equal(byHandle.get('J-abc124')!.exitCode, 137);
  t.equal(byHandle.get('J-abc124')!.exitReason, 'Memory limit exceeded: used 152m, limit 100m * 1', 'the kill it began is still the reason');
  for (const r of runs) await r.dispose();
  t.notOk(existsSync(join(jobs, 'J-abc124', 'process.json')), 'its old record is gone once the result is delivered');
  t.notOk(existsSync(join(jobs, 'J-abc124', RUN_FILE)));
});

t.test('a record says where its paths were resolved; one that does not is of the layout that mirrored at the basePath itself', async (t) => {
  const old = readRunRecord(copy(t, join('records-v1', 'process'), 'J-abc124'))!;
  t.equal(old.root, undefined);
  t.equal(runRoot(old, '/scratch'), '/scratch', 'the previous layout: the mirror was the basePath');
  t.equal(runRoot({ job: { ...old.job, shareWorkingPath: true }, root: undefined }, '/scratch'), '/');
  const dir = join(t.testdir(), 'J-abc126');
  mkdirSync(dir);
  writeRunRecord(dir, { ...old, root: '/scratch/mirror' });
  t.equal(runRoot(readRunRecord(dir)!, '/scratch'), '/scratch/mirror', 'as recorded');
  writeRunRecord(dir, { ...old, root: '/scratch/../etc' });
  t.equal(readRunRecord(dir)!.root, undefined, 'a root that is not a clean absolute path is not taken');
});
