// The actions a dashboard offers (none on a -readOnly master: it refuses them too), on one job
// or on every job a filter selects; each asks first, saying how many jobs it touches.
import { api } from './api.js';

export const ACTIONS = ['kill', 'rerun', 'delete', 'hold', 'release'] as const;
export type Action = (typeof ACTIONS)[number];

/** Counts what `specs` match, asks, and acts; what to say afterwards, or null if the user said no. */
export async function act(action: Action, specs: string[], what: string): Promise<string | null> {
  const { n } = await api.request({ type: 'count', specs }, 'count');
  if (!window.confirm(`${action} ${n} job${n === 1 ? '' : 's'} (${what})?`)) return null;
  const req = action === 'kill' ? { type: action, specs, queued: false } : { type: action, specs };
  const res = await api.request(req, 'affected');
  return `${action}: ${res.handles.length} of ${res.matched} jobs`;
}
