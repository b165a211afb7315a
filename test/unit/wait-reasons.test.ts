import t from 'tap';
import { noWorkerReason } from '../../src/master/waitReasons.js';
import type { Requirement, WorkerFit } from '../../src/store/readyClasses.js';

const need = (over: Partial<Requirement> = {}): Requirement => ({ mem: 100, time: 3600, pin: null, docker: false, cpus: null, gpus: 0, queue: null, network: false, image: null, ...over });
const worker = (over: Partial<WorkerFit> = {}): WorkerFit => ({
  worker: 'w', maxTime: null, docker: true, bare: true, memBudget: 4096, cpuBudget: 4, gpuBudget: 0, queues: [], policy: { allowNetwork: true, allowImages: null }, ...over,
});

t.test('the first need no connected worker meets is named; none when one could take it', async (t) => {
  t.equal(noWorkerReason(need(), []), 'no worker connected');
  t.equal(noWorkerReason(need(), [worker()]), null);
  t.equal(noWorkerReason(need({ queue: 'gpu' }), [worker({ queues: ['cpu'] })]), 'no worker serves queue gpu');
  t.equal(noWorkerReason(need({ pin: 'w9' }), [worker()]), 'pinned to w9, which is not connected');
  t.equal(noWorkerReason(need({ docker: true }), [worker({ docker: false })]), 'needs Docker; no connected worker has an engine');
  t.equal(noWorkerReason(need(), [worker({ bare: false })]), 'runs outside a container; every worker is -requireDocker');
  t.equal(noWorkerReason(need({ docker: true, image: 'x/y' }), [worker({ policy: { allowNetwork: true, allowImages: ['lab/*'] } })]), 'image x/y is not allowed on any worker (-allowImages)');
  t.equal(noWorkerReason(need({ network: true }), [worker({ policy: { allowNetwork: false, allowImages: null } })]), 'asks for a network; no worker allows one (-allowNetwork)');
  t.equal(noWorkerReason(need({ time: 48 * 3600 }), [worker({ maxTime: 3240 }), worker({ maxTime: 600 })]), 'needs 2d0h; the workers accept at most 54m0s (-time)');
  t.equal(noWorkerReason(need({ mem: 8192 }), [worker({ memBudget: 4096 })]), 'needs 8192m of memory; no worker has that much free');
  t.equal(noWorkerReason(need({ cpus: 8 }), [worker({ cpuBudget: 2 })]), 'needs 8 CPUs; the most any worker has is 2');
  t.equal(noWorkerReason(need({ gpus: 2 }), [worker({ gpuBudget: 1 })]), 'needs 2 GPUs; the most any worker has is 1');
  t.equal(noWorkerReason(need({ mem: 8192, queue: 'gpu' }), [worker({ memBudget: 16384 }), worker({ worker: 'g', queues: ['gpu'] })]),
    'no one worker has all it needs (queue, image, time, memory, CPUs, GPUs)', 'each need met by some worker, all by none');
});
