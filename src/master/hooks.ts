// doneHook / failedHook: shell commands the master runs when a job ends. They run in the
// background so a slow hook never holds up scheduling. A hook comes from its submitter's
// command line or a spec file named with -specPath (never from a job.spec found by default,
// which a job could have written: client/jobspec.ts), and runs as the master's user, whom the
// token already lets run anything on every worker. It gets nothing of the master's own
// environment (the token, whatever the master was started with): a fixed PATH, the job's
// handle, status and exit code, and `/` as its working directory (the job's directories are
// the job's to plant links in).
import { spawn } from 'node:child_process';
import type { JobView } from '../protocol/jobState.js';
import type { Log } from '../common/verbosity.js';

export type HookLog = Log;

/** The PATH a hook runs with. */
export const HOOK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function runHook(job: JobView, log: HookLog): void {
  const kind = job.status === 'done' ? 'done' : 'failed';
  const hook = kind === 'done' ? job.doneHook : job.failedHook;
  if (!hook) return;
  const command = job.outPath ? hook.split('_OUTPATH_').join(job.outPath) : hook;
  log(`Executing ${kind} hook: ${command}`);
  const child = spawn('/bin/sh', ['-c', command], {
    stdio: 'ignore',
    cwd: '/',
    env: {
      PATH: HOOK_PATH,
      Q_JOB_HANDLE: job.handle,
      Q_JOB_STATUS: job.status,
      Q_JOB_EXIT_CODE: String(job.exitCode ?? ''),
    },
  });
  child.on('error', () => log.warn(`Executing ${kind} hook failed`));
  child.on('exit', (code) => {
    if (code !== 0) log.warn(`Executing ${kind} hook failed (exit ${code})`);
  });
}
