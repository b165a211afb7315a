// A job's page: what it asked for and what it used, where and when it ran, what it waits for,
// and its output, tailing live while it runs (the `log` request with follow, as q -log -follow).
import { h, type ComponentChild } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { JobView } from '../../protocol/jobState.js';
import { api } from './api.js';
import { ACTIONS, act } from './actions.js';
import { date } from './format.js';
import { sizeCell, timeCell } from '../../jobs/listCells.js';
import { useTicks } from './ticks.js';

const REFRESH_MS = 1000;
/** What the page keeps of a long log: its end. */
const MAX_LOG_CHARS = 200_000;

function fromBase64(data: string): string {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export function JobPage({ handle, readOnly }: { handle: string; readOnly: boolean }): ComponentChild {
  const [job, setJob] = useState<JobView | null>(null);
  const [missing, setMissing] = useState(false);
  const [log, setLog] = useState('');
  const [message, setMessage] = useState('');
  const tick = useTicks(REFRESH_MS);
  const follow = useRef(0);

  useEffect(() => {
    api
      .request({ type: 'list', specs: [handle] }, 'jobs')
      .then((r) => {
        setJob(r.jobs[0] ?? null);
        setMissing(r.jobs.length === 0);
      })
      .catch((e: Error) => setMessage(e.message));
  }, [handle, tick]);
  // The log, followed from its start until the job ends; again after a rerun.
  const attempt = job?.attempt ?? 0;
  useEffect(() => {
    const mine = ++follow.current;
    setLog('');
    api
      .stream({ type: 'log', handle, follow: true }, (msg) => {
        if (follow.current !== mine) return true;
        if (msg.type === 'logData') setLog((l) => (l + fromBase64(msg.data)).slice(-MAX_LOG_CHARS));
        return msg.type === 'logEnd';
      })
      .catch(() => {});
  }, [handle, attempt]);

  if (missing) return h('p', null, `No job ${handle} (deleted?). `, h('a', { href: '#/jobs' }, 'All jobs'));
  if (!job) return h('p', null, message || 'Loading…');
  const run = (action: (typeof ACTIONS)[number]) => {
    act(action, [handle], handle)
      .then((said) => said && setMessage(said))
      .catch((e: Error) => setMessage(e.message));
  };
  const deps = [...job.after.map((d) => [d, 'after'] as const), ...job.afterAny.map((d) => [d, 'afterAny'] as const)];
  const field = (name: string, value: ComponentChild) => [h('dt', null, name), h('dd', { 'data-field': name }, value)];
  return h(
    'section',
    { class: 'job' },
    h('h2', null, job.handle, ' ', h('span', { class: `status ${job.status}`, 'data-field': 'status' }, job.status)),
    readOnly ? null : h('div', { class: 'actions' }, ...ACTIONS.map((a) => h('button', { class: `action ${a}`, onClick: () => run(a) }, a))),
    message ? h('p', { class: 'message' }, message) : null,
    h(
      'dl',
      null,
      ...field('command', h('code', null, job.command)),
      ...field('exit', job.exitCode === null ? '' : `${job.exitCode}${job.exitReason ? ` (${job.exitReason})` : ''}`),
      ...(job.exitCode === null && job.exitReason ? field('reason', job.exitReason) : []),
      ...field('worker', job.worker ? `${job.worker} ${job.workerHostname ?? ''}` : ''),
      ...field('attempt', String(job.attempt)),
      ...field('time', `used ${timeCell(job.realTime) || '-'} of ${timeCell(job.time)}`),
      ...field('memory', `peak ${sizeCell(job.maxMem) || '-'} of ${sizeCell(job.mem)}${job.status === 'running' ? `, now ${sizeCell(job.curMem)}` : ''}`),
      ...field('disk', `peak ${sizeCell(job.maxDisk) || '-'} of ${sizeCell(job.disk)}`),
      ...field('added', date(job.createdAt)),
      ...field('started', date(job.startedAt)),
      ...field('finished', date(job.finishedAt)),
      ...field('priority', String(job.priority)),
      ...field('tags', job.tags.join(', ')),
      ...field('queue', job.queue ?? ''),
      ...field('image', job.dockerImage ?? ''),
      ...field('retries', job.retry ? `${job.retried} of ${job.retry}` : ''),
      ...field(
        'waits for',
        deps.length ? h('span', null, ...deps.map(([d, kind]) => h('a', { href: `#/job/${d}`, class: kind, title: kind }, d, ' '))) : '',
      ),
      ...field('directory', job.workingPath),
    ),
    h('h3', null, 'Output'),
    h('pre', { class: 'log', 'data-field': 'log' }, log),
  );
}
