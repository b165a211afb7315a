// A ready job that no connected worker could take says why in -list and -info, where it would
// otherwise say only `ready` (master/waitReasons.ts): kept per requirement class.
import t from 'tap';
import { Cluster, waitFor, type Row } from '../helpers/q.js';
import { TEST_IMAGE, dockerReady, removeContainers } from '../helpers/docker.js';
import { join } from 'node:path';

const reasonOf = (c: Cluster, h: string, re: RegExp) =>
  waitFor(`a reason matching ${re} for ${h}`, () => {
    const row: Row | undefined = c.row(h);
    return row && row.status === 'ready' && re.test(row.exitReason) ? row : undefined;
  }, 10_000, 200);

t.test('why a ready job waits: no worker, a queue nobody serves, a pin, more memory than any has, an image not allowed', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const early = c.add(['-add', 'true']);
  t.ok(await reasonOf(c, early, /^no worker connected$/), 'no worker at all');
  const docker = dockerReady(t);
  const base = join(c.dir, 'scratch-w');
  if (docker) t.teardown(() => removeContainers(`q.base=${base}`));
  await c.startWorker('w', docker ? ['-allowImages', 'lab/*'] : []);
  t.equal((await c.waitForStatus(early, ['done', 'failed'])).status, 'done', 'once one is there, it runs');
  const queued = c.add(['-queue', 'gpu', '-add', 'true']);
  const pinned = c.add(['-workerHandle', 'w9', '-add', 'true']);
  const big = c.add(['-mem', '900000g', '-add', 'true']);
  t.ok(await reasonOf(c, queued, /^no worker serves queue gpu$/));
  t.ok(await reasonOf(c, pinned, /^pinned to w9, which is not connected$/));
  t.ok(await reasonOf(c, big, /^needs 900000g of memory; no worker has that much free$/));
  const tabs = c.q(['-list', big, '-tabs']).stdout.trim().split('\t');
  t.equal(tabs.length, 10, '-tabs keeps its 10 columns');
  const [info] = JSON.parse(c.q(['-info', big, '-json']).stdout) as { exitReason: string }[];
  t.match(info!.exitReason, /^needs 900000g/, '-info says it too');
  if (docker) {
    const image = c.add(['-docker', TEST_IMAGE, '-add', 'true']);
    t.ok(await reasonOf(c, image, new RegExp(`^image ${TEST_IMAGE} is not allowed on any worker \\(-allowImages\\)$`)));
  }
  // The reason goes with its cause: a worker that serves the queue takes the job.
  await c.startWorker('g', ['-queues', 'gpu', ...(docker ? ['-allowImages', 'lab/*'] : [])]);
  t.equal((await c.waitForStatus(queued, ['done', 'failed'])).status, 'done');
  t.equal(c.row(pinned)!.exitReason.startsWith('pinned to w9'), true, 'the others still say theirs');
});
