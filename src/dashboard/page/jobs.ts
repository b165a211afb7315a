// The jobs page: status counts, a filter taking -list's SPECs, and a table of -list's columns
// that pages through the table by cursor (a page costs what it shows, whatever the table
// holds), newest or oldest first, and refreshes every second without a reload.
import { h, type ComponentChild } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { JobCount, QueuePoint } from '../../protocol/clientMessages.js';
import type { ListRow } from '../../protocol/listRow.js';
import { JobStatuses } from '../../protocol/statuses.js';
import { api } from './api.js';
import { ACTIONS, act } from './actions.js';
import { Chart } from './chart.js';
import { SORT_KEYS } from './format.js';
import { LIST_COLUMNS, listCells } from '../../jobs/listCells.js';
import { useTicks } from './ticks.js';

const PAGE_ROWS = 50;

function compare(a: number | string, b: number | string): number {
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
}
const REFRESH_MS = 1000;

export function JobsPage({ readOnly }: { readOnly: boolean }): ComponentChild {
  const [filter, setFilter] = useState('');
  const [typed, setTyped] = useState('');
  const [newest, setNewest] = useState(true);
  const [cursors, setCursors] = useState<(number | null)[]>([null]);
  const [rows, setRows] = useState<ListRow[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [counts, setCounts] = useState<JobCount[]>([]);
  const [points, setPoints] = useState<QueuePoint[]>([]);
  const [message, setMessage] = useState('');
  const tick = useTicks(REFRESH_MS);
  // Another column than the order of submission sorts the rows on this page (ordering a
  // million rows by any column would need an index for each).
  const [sortBy, setSortBy] = useState<{ col: number; desc: boolean } | null>(null);
  const specs = filter.split(/\s+/).filter(Boolean);
  const from = cursors[cursors.length - 1] ?? null;

  useEffect(() => {
    api
      .request({ type: 'rowPage', specs, from, limit: PAGE_ROWS, newest }, 'rowPage')
      .then((p) => {
        setRows(p.rows);
        setNext(p.next);
      })
      .catch((e: Error) => setMessage(e.message));
    api.request({ type: 'counts' }, 'counts').then((c) => setCounts(c.counts)).catch(() => {});
    if (tick % 10 === 0) api.request({ type: 'history' }, 'history').then((r) => setPoints(r.points)).catch(() => {});
  }, [tick, filter, newest, from]);

  const key = sortBy === null ? null : SORT_KEYS[LIST_COLUMNS[sortBy.col]!];
  const shown = key === null ? rows : [...rows].sort((a, b) => compare(key(a), key(b)) * (sortBy!.desc ? -1 : 1));
  const byStatus = new Map<string, number>();
  for (const c of counts) byStatus.set(c.status, (byStatus.get(c.status) ?? 0) + c.n);
  const restart = () => setCursors([null]);
  const run = (action: (typeof ACTIONS)[number]) => {
    act(action, specs.length ? specs : ['all'], specs.length ? `matching ${filter}` : 'every job')
      .then((said) => said && setMessage(said))
      .catch((e: Error) => setMessage(e.message));
  };

  return h(
    'section',
    null,
    h(
      'div',
      { class: 'counts' },
      ...JobStatuses.map((s) =>
        h('a', { href: '#/jobs', class: `count ${s}`, 'data-status': s, onClick: () => (setFilter(`status:${s}`), setTyped(`status:${s}`), restart()) }, h('b', null, String(byStatus.get(s) ?? 0)), ` ${s}`),
      ),
    ),
    h(Chart, { points }),
    h(
      'form',
      { class: 'filter', onSubmit: (e: Event) => (e.preventDefault(), setFilter(typed), restart()) },
      h('input', { name: 'filter', placeholder: 'SPEC… as for q -list: status:running tag:sweep J-abc123', value: typed, onInput: (e: Event) => setTyped((e.target as HTMLInputElement).value) }),
      h('button', { type: 'submit' }, 'Filter'),
      readOnly ? null : h('span', { class: 'bulk' }, ...ACTIONS.map((a) => h('button', { type: 'button', class: `action ${a}`, onClick: () => run(a) }, `${a} all`))),
    ),
    message ? h('p', { class: 'message' }, message) : null,
    h(
      'table',
      { class: 'jobs' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ...LIST_COLUMNS.map((name, col) =>
            name === 'handle'
              ? h('th', { class: 'sortable', title: 'order of submission, every page', onClick: () => (setSortBy(null), setNewest(!newest), restart()) }, `handle ${sortBy ? '' : newest ? '▼' : '▲'}`)
              : h(
                  'th',
                  { class: 'sortable', title: 'sorts this page', onClick: () => setSortBy({ col, desc: sortBy?.col === col ? !sortBy.desc : false }) },
                  `${name} ${sortBy?.col === col ? (sortBy.desc ? '▼' : '▲') : ''}`,
                ),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        ...shown.map((r) => {
          const cells = listCells(r, false);
          return h('tr', { 'data-handle': r[0], class: r[3] }, ...LIST_COLUMNS.map((name, col) => h('td', { class: name }, name === 'handle' ? h('a', { href: `#/job/${r[0]}` }, r[0]) : cells[col])));
        }),
      ),
    ),
    h(
      'div',
      { class: 'pager' },
      h('button', { disabled: cursors.length === 1, onClick: () => setCursors(cursors.slice(0, -1)) }, '‹ previous'),
      h('span', null, `page ${cursors.length}`),
      h('button', { disabled: next === null, onClick: () => next !== null && setCursors([...cursors, next]) }, 'next ›'),
    ),
  );
}
