// How q runs Slurm's commands and what it says when they fail: a submit host without Slurm, a
// refusal, and what reaches sbatch and scancel. Small scripts stand in for Slurm's commands on
// PATH here; test/slurm/pilots.test.ts runs the real ones.
import t from 'tap';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cancelPilots, submitPilots, type PilotSpec } from '../../src/client/slurm.js';
import { countPilots } from '../../src/master/autoscaler.js';
import { ErrorCodes } from '../../src/common/errors.js';
import { scratchDir } from '../helpers/q.js';

function pilot(dir: string): PilotSpec {
  return {
    count: 2, masterHost: 'head', masterPort: 7000, timeS: 3600, lifetimeS: 600, slots: 1, memMb: null, cpus: null, gpus: 0,
    partition: null, queues: [], extra: [], basePath: join(dir, 'pilots'), tls: null,
  };
}

/** PATH holds only `dir`, with these commands in it (shell scripts). */
function commands(t: { teardown(fn: () => unknown): void }, dir: string, scripts: Record<string, string>): void {
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  const path = process.env.PATH;
  process.env.PATH = dir;
  t.teardown(() => {
    if (path === undefined) delete process.env.PATH;
    else process.env.PATH = path;
  });
}

t.test('a host without Slurm: one line that says so', async (t) => {
  const dir = scratchDir(t);
  commands(t, dir, {});
  await t.rejects(submitPilots(pilot(dir), 'tok'), { code: ErrorCodes.NOT_SUPPORTED, message: '-slurm: sbatch not found: is this a Slurm submit host?' });
  await t.rejects(cancelPilots(['slurm']), { code: ErrorCodes.NOT_SUPPORTED, message: '-slurm: squeue not found: is this a Slurm submit host?' });
  await t.rejects(countPilots(), { message: '-slurm: squeue not found: is this a Slurm submit host?' }, 'the autoscaler says the same');
});

t.test("Slurm's refusal, without its prefix, even from a command that never read the script", async (t) => {
  const dir = scratchDir(t);
  commands(t, dir, { sbatch: 'echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1' });
  // A script larger than a pipe holds: sbatch is gone before q has written it all (EPIPE).
  const big = { ...pilot(dir), extra: [`--comment=${'x'.repeat(256 * 1024)}`] };
  for (const spec of [pilot(dir), big]) {
    await t.rejects(submitPilots(spec, 'tok'), { code: ErrorCodes.BAD_VALUE, message: 'sbatch: Batch job submission failed: Invalid partition name specified' });
  }
});

t.test('a command ended by a signal: one line that says which', async (t) => {
  const dir = scratchDir(t);
  commands(t, dir, { sbatch: 'kill -KILL $$' });
  await t.rejects(submitPilots(pilot(dir), 'tok'), { code: ErrorCodes.BAD_VALUE, message: 'sbatch: ended by SIGKILL' });
});

t.test('sbatch gets the script on stdin and the token in its environment; its job id comes back', async (t) => {
  const dir = scratchDir(t);
  commands(t, dir, { sbatch: `/bin/cat > ${dir}/script; echo "$Q_TOKEN" > ${dir}/token; echo "4242;cluster"` });
  t.equal(await submitPilots(pilot(dir), 'tok-123'), '4242');
  t.match(readFileSync(join(dir, 'script'), 'utf8'), /-mode worker/);
  t.equal(readFileSync(join(dir, 'token'), 'utf8'), 'tok-123\n');
});

t.test('pending pilots are cancelled, running ones get TERM in their worker; the autoscaler counts both', async (t) => {
  const dir = scratchDir(t);
  commands(t, dir, {
    squeue: "printf '77_0 PENDING\\n77_1 RUNNING\\n78_0 COMPLETING\\n'",
    scancel: `echo "$@" >> ${dir}/scancel.log`,
  });
  t.same(await countPilots(), { pending: 1, running: 2 });
  t.equal(await cancelPilots(['slurm-77_1']), 1);
  t.equal(readFileSync(join(dir, 'scancel.log'), 'utf8'), '--batch --signal=TERM 77_1\n');
  t.equal(await cancelPilots(['slurm']), 3);
  t.equal(readFileSync(join(dir, 'scancel.log'), 'utf8'), '--batch --signal=TERM 77_1\n77_0\n--batch --signal=TERM 77_1 78_0\n');
});
