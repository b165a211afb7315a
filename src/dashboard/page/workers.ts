// The workers page: -w's facts, refreshed every two seconds.
import { h, type ComponentChild } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WorkerView } from '../../protocol/resources.js';
import { api } from './api.js';
import { ago } from './format.js';
import { sizeCell } from '../../jobs/listCells.js';
import { useTicks } from './ticks.js';

const REFRESH_MS = 2000;

export function WorkersPage(): ComponentChild {
  const [workers, setWorkers] = useState<WorkerView[]>([]);
  const [now, setNow] = useState(Date.now());
  const [message, setMessage] = useState('');
  const tick = useTicks(REFRESH_MS);
  useEffect(() => {
    api
      .request({ type: 'workers' }, 'workerList')
      .then((r) => {
        setWorkers(r.workers);
        setNow(r.now ?? Date.now());
      })
      .catch((e: Error) => setMessage(e.message));
  }, [tick]);
  const cols = ['handle', 'state', 'hostname', 'slots', 'cpus', 'free mem', 'free disk', 'docker', 'gpus', 'queues', 'last contact', 'jobs'];
  return h(
    'section',
    null,
    message ? h('p', { class: 'message' }, message) : null,
    workers.length === 0 ? h('p', null, 'No workers yet: start one with q -mode worker.') : null,
    h(
      'table',
      { class: 'workers' },
      h('thead', null, h('tr', null, ...cols.map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        ...workers.map((w) =>
          h(
            'tr',
            { 'data-worker': w.handle },
            h('td', null, w.handle),
            h('td', { class: w.connected ? 'connected' : 'away' }, w.connected ? 'connected' : 'away'),
            h('td', null, w.resources.hostname),
            h('td', null, `${w.jobs.length}/${w.slots}`),
            h('td', null, String(w.resources.cpus)),
            h('td', null, sizeCell(w.resources.freeMem)),
            h('td', null, sizeCell(w.resources.freeDisk)),
            h('td', null, w.resources.docker ?? ''),
            h('td', null, String(w.resources.gpus ?? 0)),
            h('td', null, (w.resources.queues ?? []).join(', ')),
            h('td', null, ago(w.lastSeen, now)),
            h('td', null, ...w.jobs.map((j) => h('a', { href: `#/job/${j}` }, j, ' '))),
          ),
        ),
      ),
    ),
  );
}
