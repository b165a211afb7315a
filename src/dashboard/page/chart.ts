// The queue over the last hours as a small SVG: jobs waiting and running (lines) and jobs
// finished per minute (bars), from the master's minute points (master/queueHistory.ts).
import { h, type ComponentChild } from 'preact';
import type { QueuePoint } from '../../protocol/clientMessages.js';

const W = 720;
const H = 140;

export function Chart({ points }: { points: QueuePoint[] }): ComponentChild {
  if (points.length === 0) return h('p', null, 'No history yet.');
  const t0 = points[0]!.at;
  const t1 = Math.max(points[points.length - 1]!.at, t0 + 60_000);
  const top = Math.max(1, ...points.map((p) => Math.max(p.queued, p.running, p.finished)));
  const x = (t: number) => ((t - t0) / (t1 - t0)) * (W - 40) + 30;
  const y = (v: number) => H - 20 - (v / top) * (H - 30);
  const line = (key: 'queued' | 'running') => points.map((p) => `${x(p.at).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
  return h(
    'svg',
    { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'queued and running jobs, finishes per minute' },
    h('text', { x: 2, y: 12, class: 'axis' }, String(top)),
    h('text', { x: 2, y: H - 20, class: 'axis' }, '0'),
    h('line', { x1: 30, y1: H - 20, x2: W - 10, y2: H - 20, class: 'axis' }),
    ...points.map((p) => h('rect', { x: x(p.at) - 2, y: y(p.finished), width: 4, height: H - 20 - y(p.finished), class: 'finished' })),
    h('polyline', { points: line('queued'), class: 'queued' }),
    h('polyline', { points: line('running'), class: 'running' }),
    h('text', { x: 30, y: H - 4, class: 'axis' }, new Date(t0).toLocaleTimeString()),
    h('text', { x: W - 120, y: H - 4, class: 'axis' }, new Date(t1).toLocaleTimeString()),
    h('text', { x: W - 260, y: 12, class: 'legend queued' }, 'queued'),
    h('text', { x: W - 190, y: 12, class: 'legend running' }, 'running'),
    h('text', { x: W - 120, y: 12, class: 'legend finished' }, 'finished/min'),
  );
}
