// Tests that need a program from Debian (Chromium, Prometheus): without it they skip, loudly;
// with the service's Q_REQUIRE_* variable set (CI sets them) they fail instead, so a CI run
// without the program cannot pass by skipping. Docker's own check is in docker.ts, through unavailable().
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Tap {
  fail(msg: string): unknown;
  skip(name: string, cb: () => void): unknown;
}

/** A service is not here: fails `t` when `requireVar` is 1 (CI), else skips it, loudly. Returns false. */
export function unavailable(t: Tap, requireVar: string, why: string, what = ''): false {
  if (process.env[requireVar] === '1') t.fail(`${requireVar}=1 but ${why}`);
  else {
    process.stderr.write(`\n!!!!! SKIPPING${what}: ${why} !!!!!\n\n`);
    t.skip(why, () => {});
  }
  return false;
}

export const CHROMIUM = '/usr/bin/chromium';
export const PROMETHEUS = '/usr/bin/prometheus';

/** True when `path` is here; otherwise fails (with `requireVar`=1) or skips `t`, saying how to get it. */
export function programReady(t: Tap, path: string, requireVar: string, install: string): boolean {
  if (existsSync(path)) return true;
  return unavailable(t, requireVar, `${path} is missing: ${install}`);
}

/**
 * True when a Slurm answers here (scripts/test-slurm.sh starts one); otherwise fails (with
 * Q_REQUIRE_SLURM=1) or skips `t`.
 */
export function slurmReady(t: Tap): boolean {
  const r = spawnSync('sinfo', ['--noheader', '--format=%T'], { encoding: 'utf8', timeout: 20_000 });
  const up = r.status === 0 && /^(idle|mixed|allocated)/m.test(r.stdout);
  if (up) return true;
  const why = `no Slurm answers here (${r.error ? 'no sinfo' : (r.stderr || r.stdout).trim().split('\n')[0] || 'no node up'}): run bash scripts/test-slurm.sh as root`;
  return unavailable(t, 'Q_REQUIRE_SLURM', why, ' SLURM TESTS');
}
