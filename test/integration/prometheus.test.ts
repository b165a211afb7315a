// A real Prometheus (Debian's) scrapes the master's /metrics with the token as its bearer
// token, the scrape_config docs/dashboard.md gives, and q_jobs is read back through
// Prometheus's own HTTP API.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, Proc, freePort, waitFor } from '../helpers/q.js';
import { PROMETHEUS, programReady } from '../helpers/services.js';

t.test('Prometheus scrapes /metrics with the token and reads q_jobs back', async (t) => {
  if (!programReady(t, PROMETHEUS, 'Q_REQUIRE_PROMETHEUS', 'apt-get install prometheus')) return;
  const c = new Cluster(t);
  await c.startMaster();
  c.add(['-add', 'true']);
  c.add(['-queue', 'gpu', '-add', 'true']);
  const dir = c.dir;
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: q',
      '    authorization:',
      '      type: Bearer',
      `      credentials_file: ${join(dir, 'state', 'token')}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${c.port}']`,
      '',
    ].join('\n'),
  );
  const prom = new Proc(
    spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  t.teardown(() => prom.stop('SIGKILL'));
  const query = async (q: string) => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => null);
    if (!r?.ok) return null;
    return ((await r.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
  };
  const ready = await waitFor(`Prometheus to scrape q_jobs:\n${prom.out}`, async () => {
    const r = await query('q_jobs{status="ready"}');
    return r && r.length >= 2 ? r : undefined;
  }, 60_000, 250);
  const byQueue = Object.fromEntries(ready.map((s) => [s.metric.queue ?? '', s.value[1]]));
  t.same(byQueue, { '': '1', gpu: '1' }, 'one ready job in no queue, one in gpu');
  t.match(ready[0]!.metric, { job: 'q', instance: `127.0.0.1:${c.port}` });
  const up = await query('up{job="q"}');
  t.equal(up?.[0]?.value[1], '1', 'the scrape with the token succeeds');
});
