// The master's plain HTTP, beside the WebSocket upgrade on the same port: the dashboard's
// static files and its login, and /metrics for Prometheus. Nothing here reads the job table:
// the page asks for data over the WebSocket, with the requests the CLI uses.
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearer, tokenMatches, type DashboardAccess } from './access.js';
import type { MasterMetrics } from './metrics.js';

const STATIC_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));
/** Path → file under STATIC_DIR. None holds data: that comes over the socket. */
const FILES: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/login': 'login.html', '/app.js': 'app.js', '/login.js': 'login.js', '/app.css': 'app.css' };
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const MAX_LOGIN_BYTES = 1024;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export interface Routes {
  token: string;
  metrics: MasterMetrics;
  /** null: -dashboard false (only /metrics is served). */
  dashboard: DashboardAccess | null;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
      if (body.length > max) {
        resolve(null);
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', () => resolve(null));
  });
}

export function httpHandler(r: Routes): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void route(r, req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  };
}

async function route(r: Routes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/metrics') {
    if (req.method !== 'GET') return send(res, 405, 'GET only\n');
    if (!tokenMatches(bearer(req), r.token)) return send(res, 401, 'wrong or missing token (Authorization: Bearer TOKEN)\n', { 'www-authenticate': 'Bearer' });
    return send(res, 200, await r.metrics.text(), { 'content-type': r.metrics.contentType });
  }
  const access = r.dashboard;
  if (!access) return send(res, 404, 'the dashboard is off on this master (-dashboard false)\n');
  if (path === '/api/login' || path === '/api/logout') {
    if (req.method !== 'POST') return send(res, 405, 'POST only\n');
    // A login or logout from another site's page is refused, whatever it carries.
    if (!access.sameOrigin(req)) return send(res, 403, 'cross-site request refused\n');
    if (path === '/api/logout') {
      access.logout(req);
      return send(res, 204, '');
    }
    const body = await readBody(req, MAX_LOGIN_BYTES);
    let code: unknown;
    try {
      code = (JSON.parse(body ?? '') as { code?: unknown }).code;
    } catch {
      code = undefined;
    }
    const cookie = typeof code === 'string' ? access.redeem(code) : null;
    if (!cookie) return send(res, 401, 'this login link was used or has expired: run q -dashboard again\n');
    return send(res, 204, '', { 'set-cookie': cookie });
  }
  const file = FILES[path];
  if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) return send(res, 404, 'not found\n');
  // The page itself shows nothing without a session: only the login page and the files it needs do.
  if (file === 'index.html' && !access.hasSession(req)) {
    return send(res, 401, 'Not logged in. Run `q -dashboard` on a machine with the token and open the link it prints.\n');
  }
  let body: Buffer | string = await readFile(join(STATIC_DIR, file));
  // The page offers no action on a -readOnly master (which refuses them anyway).
  if (file === 'index.html' && access.readOnly) body = body.toString('utf8').replace('<body>', '<body data-read-only="true">');
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
