// doneHook / failedHook: shell commands the master runs when a job ends. They run in the
// background so a slow hook never holds up scheduling.
import { spawn } from 'node:child_process';
import type { JobView } from '../protocol/jobState.js';
import type { Log } from '../common/verbosity.js';

export type HookLog = Log;

export function runHook(job: JobView, log: HookLog): void {
  const kind = job.status === 'done' ? 'done' : 'failed';
  const hook = kind === 'done' ? job.doneHook : job.failedHook;
  if (!hook) return;
  const command = job.outPath ? hook.split('_OUTPATH_').join(job.outPath) : hook;
  log(`Executing ${kind} hook: ${command}`);
  const child = spawn('/bin/sh', ['-c', command], {
    stdio: 'ignore',
    env: {
      ...process.env,
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
