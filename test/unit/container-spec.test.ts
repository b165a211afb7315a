import t from 'tap';
import { containerName, containerSpec, memoryLimitBytes } from '../../src/worker/docker/containerSpec.js';
import { FrameSplitter, parseStatsFrame } from '../../src/worker/docker/stats.js';
import type { Assignment } from '../../src/protocol/jobState.js';
import { makeJobSpec } from '../../src/protocol/jobSpec.js';

function job(over: Partial<Assignment> = {}): Assignment {
  return {
    ...makeJobSpec({ command: 'python train.py', workingPath: '/home/u/exp', time: 600, mem: 256, memGrace: 1.5, disk: 1024, dockerImage: 'img' }),
    handle: 'J-abc123', lease: 'L3as3_x-9', attempt: 1, ...over,
  };
}

const place = {
  image: 'img:1', workerHandle: 'w1', basePath: '/scratch', user: '1000:1000', workDir: '/scratch/home/u/exp',
  stdout: '/scratch/.q/jobs/J-abc123/stdout', stderr: '/scratch/.q/jobs/J-abc123/stderr', outDir: null, command: 'python train.py',
};

t.test('limits, isolation and labels of a job container', async (t) => {
  const s = containerSpec(job(), place);
  const h = s.HostConfig!;
  t.equal(s.name, 'q-J-abc123-L3as3_x-9');
  t.equal(s.Image, 'img:1');
  t.equal(s.User, '1000:1000');
  t.equal(s.WorkingDir, '/scratch/home/u/exp');
  t.same(s.Entrypoint, ['/bin/sh', '-c']);
  t.match(s.Cmd![0], /^exec >>\/\.q\/stdout 2>>\/\.q\/stderr <\/dev\/null\npython train\.py$/);
  t.equal(h.Memory, 384 * 1024 * 1024, 'mem × memGrace');
  t.equal(h.MemorySwap, h.Memory, 'no swap beyond the limit');
  t.equal(h.NetworkMode, 'none');
  t.same(h.CapDrop, ['ALL']);
  t.same(h.SecurityOpt, ['no-new-privileges']);
  t.equal(h.Init, true);
  t.notOk('NanoCpus' in h, 'no CPU limit unless asked');
  t.notOk('DeviceRequests' in h, 'no GPUs unless asked');
  t.same(s.Labels, { 'q.job': 'J-abc123', 'q.worker': 'w1', 'q.base': '/scratch', 'q.lease': 'L3as3_x-9' });
  t.same(h.Mounts, [
    { Type: 'bind', Source: '/scratch/home/u/exp', Target: '/scratch/home/u/exp' },
    { Type: 'bind', Source: '/scratch/.q/jobs/J-abc123/stdout', Target: '/.q/stdout' },
    { Type: 'bind', Source: '/scratch/.q/jobs/J-abc123/stderr', Target: '/.q/stderr' },
  ]);
  t.ok(s.Env!.includes('Q_JOB_HANDLE=J-abc123'));
});

t.test('cpus, gpus, network and an outPath outside the working dir', async (t) => {
  const s = containerSpec(job({ cpus: 1.5, gpus: 2, network: true }), { ...place, outDir: '/scratch/out/0.exec' });
  const h = s.HostConfig!;
  t.equal(h.NanoCpus, 1_500_000_000);
  t.same(h.DeviceRequests, [{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }]);
  t.equal(h.NetworkMode, 'bridge');
  t.same(h.Mounts![3], { Type: 'bind', Source: '/scratch/out/0.exec', Target: '/scratch/out/0.exec' });
  const inside = containerSpec(job(), { ...place, outDir: '/scratch/home/u/exp/out' });
  t.equal(inside.HostConfig!.Mounts!.length, 3, 'an outPath inside the working dir is already there');
});

t.test('the engine minimum memory and container names', async (t) => {
  t.equal(memoryLimitBytes({ mem: 1, memGrace: 1 }), 6 * 1024 * 1024);
  t.equal(containerName({ handle: 'J-000000', lease: 'abc' }), 'q-J-000000-abc');
});

t.test('stats frames: memory now and at peak, user CPU', async (t) => {
  const v1 = parseStatsFrame({
    memory_stats: { usage: 100 * 1048576, max_usage: 300 * 1048576, stats: { total_inactive_file: 20 * 1048576 } },
    cpu_stats: { cpu_usage: { usage_in_usermode: 2_500_000_000 } },
  });
  t.same(v1, { mem: 80, peak: 300, userTime: 2.5 });
  const v2 = parseStatsFrame({ memory_stats: { usage: 50 * 1048576, stats: { inactive_file: 10 * 1048576 } } });
  t.same(v2, { mem: 40, peak: 40, userTime: -1 }, 'cgroup v2 has no peak: the sample is it');
  t.same(parseStatsFrame({}), { mem: -1, peak: -1, userTime: -1 }, 'an empty frame (the container just ended)');
  const split = new FrameSplitter();
  t.same(split.push('{"a":1}\n{"b"'), [{ a: 1 }]);
  t.same(split.push(':2}\nnot json\n'), [{ b: 2 }], 'a frame split across chunks; garbage skipped');
});
