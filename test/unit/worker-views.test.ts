// -w's list (WorkerRegistry.views): connected sessions and workers known only from the table,
// in the order of their handles by code unit, as the table's ORDER BY handle has them.
import t from 'tap';
import { openDb } from '../../src/store/db.js';
import { WorkerStore } from '../../src/store/workers.js';
import { WorkerRegistry, type WorkerSession } from '../../src/master/registry.js';

t.test('sessions and table-only workers, in code-unit order of handle', async (t) => {
  const store = new WorkerStore(openDb(':memory:'));
  for (const handle of ['node-9', 'Node-2']) store.save({ handle, info: JSON.stringify({ slots: 1, maxTime: null, resources: {} }), lastSeen: 0 });
  const workers = new WorkerRegistry(store);
  for (const handle of ['node-10', 'gpu-1']) {
    workers.add({ handle, socket: { OPEN: 1, readyState: 1 }, slots: 2, maxTime: null, lastSeen: 0, pump: {}, inputs: new Map(), jobs: new Map(), resources: {} } as unknown as WorkerSession);
  }
  const views = workers.views();
  t.same(
    views.map((v) => v.handle),
    ['Node-2', 'gpu-1', 'node-10', 'node-9'],
  );
  t.same(
    views.map((v) => v.connected),
    [false, true, true, false],
  );
  workers.flush(); // the sessions' rows too
  t.same(
    views.map((v) => v.handle),
    store.all().map((r) => r.handle),
    "the table's own ORDER BY",
  );
});
