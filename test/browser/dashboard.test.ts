// The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a
// real master and worker: log in through the link q -dashboard prints, watch jobs change
// without reloading, filter, tail a job's output, kill a job from the page, see the workers;
// and what the page must refuse: no session, another site. The screenshots in docs/ come
// from this test, so they show the page as it is: `Q_SCREENSHOTS=docs npx tap
// test/browser/dashboard.test.ts` writes them there; any other run writes them into its
// scratch directory, removed after, so that running the suite never changes the checkout.
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { Cluster } from '../helpers/q.js';
import { CHROMIUM, programReady } from '../helpers/services.js';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const shotsIn = (dir: string) => (process.env.Q_SCREENSHOTS === 'docs' ? DOCS : dir);

async function browser(t: { teardown(fn: () => unknown): void }, dir: string): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1200, height: 800 },
  });
  t.teardown(() => context.close());
  return context;
}

async function login(c: Cluster, page: Page): Promise<void> {
  const link = c.q(['-dashboard']);
  if (link.code !== 0) throw new Error(link.stderr);
  await page.goto(link.stdout.trim());
  await page.waitForURL(/\/#\/jobs$/);
}

const statusOf = (page: Page, handle: string) => page.locator(`tr[data-handle="${handle}"] td.status`);

t.test('the dashboard: log in, watch, filter, tail, kill, workers', async (t) => {
  if (!programReady(t, CHROMIUM, 'Q_REQUIRE_BROWSER', 'apt-get install chromium')) return;
  const c = new Cluster(t);
  await c.startMaster();
  await c.startWorker('w1', ['-slots', '2']);
  const context = await browser(t, c.dir);
  const page = await context.newPage();
  const shots = shotsIn(c.dir);
  await login(c, page);
  t.notMatch(page.url(), /login/, 'the code is gone from the address bar');
  // History holds the new tab's blank page, then the dashboard: the link's entry was replaced.
  t.equal(await page.evaluate(() => history.length), 2);
  await page.goBack();
  t.equal(page.url(), 'about:blank', 'and from history');
  await page.goForward();
  await page.waitForURL(/\/#\/jobs$/);
  const cookies = await context.cookies();
  t.match(cookies, [{ name: 'q_session', httpOnly: true, sameSite: 'Strict' }], 'an HttpOnly, SameSite=Strict session');

  // A job goes from ready to done while the page stays.
  const held = c.add(['-hold', '-tag', 'sweep', '-add', 'echo', 'hello']);
  await statusOf(page, held).filter({ hasText: 'held' }).waitFor();
  c.q(['-release', held]);
  await statusOf(page, held).filter({ hasText: 'done' }).waitFor();
  const other = c.add(['-add', 'true']);
  await statusOf(page, other).filter({ hasText: 'done' }).waitFor();
  t.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1, 'no reload');
  t.match(await page.locator('.count.done b').textContent(), /^[1-9]/, 'the counts at the top');

  await page.fill('input[name=filter]', 'tag:sweep');
  await page.click('form.filter button[type=submit]');
  await page.locator(`tr[data-handle="${other}"]`).waitFor({ state: 'detached' });
  t.same(await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-handle'))), [held], 'the filter takes -list SPECs');
  await page.screenshot({ path: join(shots, 'dashboard-jobs.png') });

  // A job's page: its output tails as it runs.
  const chatty = c.add(['-add', 'for i in 1 2 3 4; do echo line$i; sleep 1; done']);
  await page.goto(page.url().replace(/#.*/, `#/job/${chatty}`));
  await page.locator('[data-field=log]').filter({ hasText: 'line1' }).waitFor();
  t.equal(await page.locator('[data-field=status]').textContent(), 'running', 'output seen while it runs');
  await page.locator('[data-field=log]').filter({ hasText: 'line4' }).waitFor();
  await page.locator('[data-field=status]').filter({ hasText: 'done' }).waitFor();
  t.match(await page.locator('[data-field=time]').textContent(), /^used \d+s of 2d0h$/, 'requested and used (the seconds it ran depend on the machine)');
  await page.screenshot({ path: join(shots, 'dashboard-job.png') });

  // Kill from the page: it says how many jobs, then the job fails with its reason.
  const sleeper = c.add(['-add', 'sleep 60']);
  await page.goto(page.url().replace(/#.*/, `#/job/${sleeper}`));
  await page.locator('[data-field=status]').filter({ hasText: 'running' }).waitFor();
  let asked = '';
  page.once('dialog', (d) => void ((asked = d.message()), d.accept()));
  await page.click('button.action.kill');
  await page.locator('[data-field=status]').filter({ hasText: 'failed' }).waitFor();
  t.equal(asked, `kill 1 job (${sleeper})?`);
  t.match(await page.locator('[data-field=exit]').textContent(), /Killed by server request/);

  // Another column than the handle sorts the rows on the page.
  await page.goto(page.url().replace(/#.*/, '#/jobs'));
  await page.locator(`tr[data-handle="${sleeper}"]`).waitFor();
  await page.click('th:has-text("command")');
  await page.locator('th:has-text("command ▲")').waitFor();
  const commands = await page.locator('tbody td.command').allTextContents();
  t.same(commands, [...commands].sort((a, b) => a.localeCompare(b)), 'a column sorts the page');
  t.equal(commands.length, 4);

  await page.goto(page.url().replace(/#.*/, '#/workers'));
  await page.locator('tr[data-worker=w1] td.connected').waitFor();
  await page.screenshot({ path: join(shots, 'dashboard-workers.png') });
  t.pass('the workers page lists the worker');
});

t.test('without a session, or from another site, nothing is shown and nothing is done', async (t) => {
  const c = new Cluster(t);
  await c.startMaster();
  const base = `http://127.0.0.1:${c.port}`;
  const page = await fetch(`${base}/`);
  t.equal(page.status, 401, 'the page needs a session');
  t.notMatch(await page.text(), /J-/);
  const opens = (headers: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${c.port}/`, 'q-dashboard', { headers });
      ws.once('open', () => (ws.close(), resolve(101)));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(0));
    });
  t.equal(await opens({ origin: base }), 401, "the page's socket needs a session");

  const code = c.q(['-dashboard']).stdout.trim().split('#')[1]!;
  const post = (origin: string, body: string) => fetch(`${base}/api/login`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body });
  t.equal((await post('http://evil.example', JSON.stringify({ code }))).status, 403, 'a cross-site POST is refused');
  const ok = await post(base, JSON.stringify({ code }));
  t.equal(ok.status, 204, 'the same code still logs in from the page (the refused POST did not spend it)');
  t.equal((await post(base, JSON.stringify({ code }))).status, 401, 'once only');
  const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
  t.equal(await opens({ origin: 'http://evil.example', cookie }), 401, 'the session from another site: refused');
  t.equal(await opens({ origin: base, cookie }), 101, 'from its own page: in');
  t.equal((await fetch(`${base}/`, { headers: { cookie } })).status, 200);
  t.equal((await fetch(`${base}/metrics`, { headers: { cookie } })).status, 401, '/metrics takes the token, not a session');
});

t.test('-readOnly: the page shows no actions and the master refuses them; -dashboard false: no page', async (t) => {
  const c = new Cluster(t);
  await c.startMaster(['-readOnly']);
  const base = `http://127.0.0.1:${c.port}`;
  const h = c.add(['-add', 'sleep 30']);
  const code = c.q(['-dashboard']).stdout.trim().split('#')[1]!;
  const cookie = (await fetch(`${base}/api/login`, { method: 'POST', headers: { origin: base }, body: JSON.stringify({ code }) })).headers.get('set-cookie')!.split(';')[0]!;
  t.match(await (await fetch(`${base}/`, { headers: { cookie } })).text(), /<body data-read-only="true">/);
  const ws = new WebSocket(`ws://127.0.0.1:${c.port}/`, 'q-dashboard', { headers: { origin: base, cookie } });
  await new Promise((r) => ws.once('open', r));
  const answer = (req: object) =>
    new Promise<{ type: string; message?: string }>((resolve) => {
      ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString('utf8'))));
      ws.send(JSON.stringify(req));
    });
  t.match(await answer({ type: 'kill', id: 1, specs: [h], queued: true }), { type: 'error', message: /may not kill \(this master is -readOnly\)/ });
  t.match(await answer({ type: 'shutdown', id: 2 }), { type: 'error', message: /may not shutdown/ }, 'never what only the token may');
  t.match(await answer({ type: 'counts', id: 3 }), { type: 'counts' }, 'reads still work');
  ws.close();
  t.equal(c.row(h)?.status, 'ready', 'not killed');
  await c.master!.stop();

  await c.startMaster(['-dashboard', 'false']);
  t.equal((await fetch(`http://127.0.0.1:${c.port}/`)).status, 404);
  const r = c.q(['-dashboard']);
  t.equal(r.code, 2);
  t.equal(r.stderr, 'q: the dashboard is off on this master (-dashboard false)\n');
});
