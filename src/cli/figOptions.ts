// The options fig's q had, in the groups it parsed them in: its global options first (so
// `-p` was -pretend and `-h` -hostname), then those of the mode. Old scripts and fingers
// still type fig's shortest prefixes, so a prefix that q finds ambiguous only because of
// options fig did not have selects what it selected in fig (argv.ts).
import type { Mode } from './options.js';

export const FIG_GLOBAL = ['verbose', 'pretend', 'mode', 'masterHost', 'masterPort', 'masterTimeout', 'hostname'] as const;

export const FIG_BY_MODE: Record<Mode, readonly string[]> = {
  client: [
    'add', 'direct', 'numTimes', 'specPath', 'inPaths', 'realtimeInPaths', 'outPath', 'outFiles', 'priority', 'time', 'mem',
    'memGrace', 'disk', 'tags', 'workerHandle', 'list', 'info', 'delete', 'kill', 'rerun', 'saveState', 'w', 'startWorkers',
    'runWorkers', 'termWorkers', 'clearWorkers', 'resetWorkers', 'shutdownMaster', 'availabilityZone', 'instanceType',
    'imageId', 'headers', 'tabs', 'shareWorkingPath',
  ],
  master: ['state', 'conf', 'netInterface'],
  worker: ['handle', 'sleepInterval', 'basePath', 'maxTime'],
};

/**
 * What fig made of `-word` in `mode`: the one option of the first group (global, then the
 * mode's) that `word` is a prefix of; null when a group has several (fig found it ambiguous
 * too) or none has any.
 */
export function figChoice(word: string, mode: Mode): string | null {
  for (const group of [FIG_GLOBAL, FIG_BY_MODE[mode]]) {
    if (group.includes(word)) return word;
    const hits = group.filter((name) => name.startsWith(word));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) return null;
  }
  return null;
}
