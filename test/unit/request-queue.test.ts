// The master's one queue of client requests: listings take turns; adds wait, in order, while
// the store pauses writes to catch up its WAL, and everything else is answered meanwhile.
import t from 'tap';
import { RequestQueue } from '../../src/master/requestQueue.js';
import type { ClientRequest } from '../../src/protocol/clientMessages.js';

const turn = () => new Promise((r) => setImmediate(r));
const add = (id: number) => ({ type: 'add', id, jobs: [] }) as unknown as ClientRequest;
const list = (id: number): ClientRequest => ({ type: 'list', id, specs: [] });
const kill = (id: number): ClientRequest => ({ type: 'kill', id, specs: ['J-aaaaaa'], queued: false });

t.test('adds held while writes pause run in the order they came, one a turn, after resume', async (t) => {
  const q = new RequestQueue();
  const ran: string[] = [];
  q.submit(add(1), () => ran.push('add 1'));
  t.same(ran, ['add 1'], 'an add runs at once when nothing is paused');
  q.pause();
  q.submit(add(2), () => ran.push('add 2'));
  q.submit(kill(3), () => ran.push('kill 3'));
  q.submit(list(4), () => ran.push('list 4'));
  q.submit(add(5), () => ran.push('add 5'));
  await turn();
  await turn();
  t.same(ran, ['add 1', 'kill 3', 'list 4'], 'a kill and a listing are answered while adds wait');
  q.resume();
  await turn();
  t.same(ran, ['add 1', 'kill 3', 'list 4', 'add 2'], 'one a turn');
  await turn();
  t.same(ran, ['add 1', 'kill 3', 'list 4', 'add 2', 'add 5'], 'in order');
});
