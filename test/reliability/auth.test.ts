// Who gets in: the token, failed attempts (logged once, then refused for a while), TLS with a
// self-signed certificate, and a master that will not listen beyond loopback with a weak token.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../helpers/q.js';

t.test('the token file is private; wrong tokens are refused, logged once, then rate-limited', async (t) => {
  const c = new Cluster(t);
  const master = await c.startMaster();
  t.equal(statSync(join(c.state, 'token')).mode & 0o777, 0o600);
  for (let i = 0; i < 12; i++) {
    const r = c.q(['-list'], { env: { Q_TOKEN: `guess-${i}` } });
    t.equal(r.code, 2);
    if (i === 0) t.match(r.stderr, /^q: the master at .* refused the connection: wrong or missing token/);
    if (i === 11) t.match(r.stderr, /429/, 'past ten failures: refused without a look at the token');
  }
  t.equal(c.q(['-list']).code, 0, 'the right token still gets in from that address (workers behind a NAT)');
  await master.waitForOutput(/Refusing \S+ for up to a minute: 10 failed attempts/);
  const refused = master.out.match(/Refused a client from \S+: wrong or missing token/g) ?? [];
  t.equal(refused.length, 1, 'one log line, not twelve');
});

t.test('TLS: -tls CERT KEY on the master, -tls CERT on clients and workers', async (t) => {
  const c = new Cluster(t);
  const cert = join(c.dir, 'cert.pem');
  const key = join(c.dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  await c.startMaster(['-tls', cert, key]);
  const trusting = (args: string[]) => c.q(['-tls', cert, '-masterHost', '127.0.0.1', ...args]);
  const w = c.spawnQ(['-mode', 'worker', '-masterHost', '127.0.0.1', '-masterPort', String(c.port), '-tls', cert, '-handle', 'tw', '-basePath', join(c.dir, 'scratch')]);
  const h = /Job (J-\w+) added/.exec(trusting(['-add', 'echo over tls']).stdout)![1]!;
  await w.waitForOutput(new RegExp(`Finished ${h}: exit 0`), 15_000);
  t.equal(trusting(['-log', h]).stdout, 'over tls\n');
  const plain = c.q(['-masterHost', '127.0.0.1', '-list']);
  t.not(plain.code, 0, 'plain ws:// is not served');
  const other = join(c.dir, 'other.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(c.dir, 'k2'), '-out', other, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const wrong = c.q(['-tls', other, '-masterHost', '127.0.0.1', '-list']);
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /^q: cannot reach the master at .*certificate/m, 'a certificate it does not trust is refused, in one line');
});

t.test('beyond loopback a weak token is refused', async (t) => {
  const c = new Cluster(t);
  const r = c.q(['-mode', 'master', '-netInterface', '0.0.0.0', '-masterPort', '0', '-token', 'short']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^q: listening on 0\.0\.0\.0 needs a token of at least 16 characters/);
});

t.test('a client connection cannot speak for a worker', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const w = await c.startWorker('cw');
  const h = c.add(['-add', 'sleep 2; echo real']);
  await c.waitForStatus(h, ['running']);
  const { open, tokenOf } = await import('./sim.js');
  const ws = await open(c.port, tokenOf(c.state), 'client');
  t.teardown(() => ws.terminate());
  const answers: string[] = [];
  ws.on('message', (d) => answers.push((d as Buffer).toString()));
  for (const type of ['workerHello', 'finished', 'release', 'started']) {
    ws.send(JSON.stringify({ type, handle: h, lease: 'x', slots: 1, result: { exitCode: 0, exitReason: null, realTime: 0, userTime: 0, maxMem: 0, maxDisk: 0 } }));
  }
  await new Promise((r) => setTimeout(r, 300));
  t.equal(answers.length, 4);
  t.ok(answers.every((a) => JSON.parse(a).type === 'error'), 'each refused as a message a client may not send');
  const row = await c.waitForStatus(h, ['done', 'failed']);
  t.equal(row.status, 'done');
  t.equal(c.q(['-log', h]).stdout, 'real\n', 'the job ended as its real worker said');
  t.ok(w.alive);
});
