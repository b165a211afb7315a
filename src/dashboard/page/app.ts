// The dashboard: three pages by the address's fragment (#/jobs, #/job/HANDLE, #/workers),
// each reading the master over the page's one WebSocket (api.ts).
import { h, render, type ComponentChild } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { JobPage } from './job.js';
import { JobsPage } from './jobs.js';
import { WorkersPage } from './workers.js';

function useRoute(): string {
  const [route, setRoute] = useState(location.hash || '#/jobs');
  useEffect(() => {
    const on = () => setRoute(location.hash || '#/jobs');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function App(): ComponentChild {
  const route = useRoute();
  const [connected, setConnected] = useState(true);
  const readOnly = document.body.dataset.readOnly === 'true';
  useEffect(() => {
    api.onState = setConnected;
  }, []);
  const job = /^#\/job\/(J-[0-9a-z]+)$/.exec(route);
  const page = job ? h(JobPage, { handle: job[1]!, readOnly }) : route === '#/workers' ? h(WorkersPage, null) : h(JobsPage, { readOnly });
  const logout = () => void fetch('/api/logout', { method: 'POST' }).then(() => location.reload());
  return h(
    'div',
    null,
    h(
      'header',
      null,
      h('h1', null, 'q'),
      h('nav', null, h('a', { href: '#/jobs', class: route === '#/jobs' ? 'on' : '' }, 'Jobs'), h('a', { href: '#/workers', class: route === '#/workers' ? 'on' : '' }, 'Workers')),
      connected ? null : h('span', { class: 'offline' }, 'master unreachable: retrying'),
      h('button', { class: 'logout', onClick: logout }, 'Log out'),
    ),
    h('main', null, page),
  );
}

render(h(App, null), document.getElementById('app')!);
