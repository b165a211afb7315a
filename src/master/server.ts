// The master's socket: checks the token before the WebSocket upgrade, then hands each
// validated frame to the client or worker handler. An invalid frame gets an error answer and
// changes nothing; it never reaches the handlers.
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { WebSocketServer, type WebSocket } from 'ws';
import { traceLine } from '../common/verbosity.js';
import { ErrorCodes, QError } from '../common/errors.js';
import { ClientRequestSchema, type ClientRequest, type ClientResponse } from '../protocol/clientMessages.js';
import { bearer, tokenMatches } from './http/access.js';
import { httpHandler } from './http/routes.js';
import { MAX_FRAME_BYTES, decode, encode, encodeJobRows, frameBytes } from '../protocol/codec.js';
import { WorkerMessageSchema } from '../protocol/workerMessages.js';
import { decodeChunk } from '../protocol/frames.js';
import { AuthGuard } from './authGuard.js';
import { ConnectionGate } from './connectionGate.js';
import type { Hub } from './hub.js';
import { handleRequest } from './requests.js';
import { WorkerLink } from './workerLink.js';
import type { RequestQueue } from './requestQueue.js';
import { CloseCodes } from '../protocol/codec.js';

export const ROLE_HEADER = 'x-q-role';

/** The WebSocket subprotocol of the dashboard's page, which cannot send headers. */
export const DASHBOARD_PROTOCOL = 'q-dashboard';

/** What a dashboard session may ask; with -readOnly, only what reads. */
const DASHBOARD_READS: ReadonlySet<ClientRequest['type']> = new Set(['list', 'rowPage', 'count', 'counts', 'history', 'workers', 'log']);
const DASHBOARD_ACTS: ReadonlySet<ClientRequest['type']> = new Set(['kill', 'delete', 'rerun', 'hold', 'release']);
const DASHBOARD_ALL: ReadonlySet<ClientRequest['type']> = new Set([...DASHBOARD_READS, ...DASHBOARD_ACTS]);

export interface Listening {
  wss: WebSocketServer;
  close(): Promise<void>;
}

/**
 * Listens on host:port, over TLS (wss://) when given a certificate and its key. `requests`:
 * one queue for every client of this master (requestQueue.ts).
 */
export function listen(
  hub: Hub,
  requests: RequestQueue,
  host: string,
  port: number,
  token: string,
  tls: { cert: Buffer; key: Buffer } | null = null,
): Promise<Listening> {
  const guard = new AuthGuard(hub.clock, hub.log);
  const handler = httpHandler({ metrics: hub.metrics, dashboard: hub.dashboard, token });
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
  // Connections that send no request in time, or too many of them waiting, go (connectionGate.ts).
  const gate = new ConnectionGate(hub.clock, hub.log, { plain: tls === null });
  server.on('connection', (socket: Socket) => gate.admit(socket));
  server.prependListener('request', (req: IncomingMessage) => gate.settled(req.socket));
  server.prependListener('upgrade', (req: IncomingMessage) => gate.settled(req.socket));
  const dashboard = hub.dashboard;
  const wss = new WebSocketServer({
    server,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(DASHBOARD_PROTOCOL) ? DASHBOARD_PROTOCOL : false),
    verifyClient: ({ req }, done) => {
      const ip = req.socket.remoteAddress ?? '?';
      // A browser: its session cookie, from the dashboard's own page (http/access.ts).
      if (isDashboard(req)) return dashboard?.mayConnect(req) ? done(true) : done(false, 401, 'no dashboard session');
      const role = req.headers[ROLE_HEADER];
      if (role !== 'client' && role !== 'worker') return done(false, 400, 'unknown role');
      // The right token always gets in: a guesser at a shared address (NAT, a login node)
      // must not lock out the workers behind it.
      if (!tokenMatches(bearer(req), token)) {
        if (guard.blocked(ip)) return done(false, 429, 'too many failed attempts; try again in a minute');
        guard.failed(ip, role);
        return done(false, 401, 'wrong or missing token');
      }
      done(true);
    },
  });
  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    socket.on('error', () => socket.terminate());
    const where = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (isDashboard(req)) {
      serveClient(hub, socket, requests, `dashboard ${where}`, dashboard?.readOnly ? DASHBOARD_READS : DASHBOARD_ALL);
    } else if (req.headers[ROLE_HEADER] === 'worker') serveWorker(hub, socket, where);
    else serveClient(hub, socket, requests, `client ${where}`, null);
  });
  const close = async () => {
    for (const c of wss.clients) c.close(CloseCodes.SHUTTING_DOWN, 'master shutting down');
    await new Promise<void>((r) => wss.close(() => r()));
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  // ws re-emits the server's errors; without a listener a busy port became a stack trace.
  wss.on('error', () => {});
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new QError(ErrorCodes.BAD_VALUE, `port ${port} on ${host} is in use (another master?): choose another with -masterPort`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new QError(ErrorCodes.BAD_VALUE, `${host} is not an address of this machine (-netInterface)`));
      else reject(e);
    });
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({ wss, close });
    });
  });
}

function isDashboard(req: IncomingMessage): boolean {
  return (req.headers['sec-websocket-protocol'] ?? '').split(',').some((p) => p.trim() === DASHBOARD_PROTOCOL);
}

/**
 * `requests`: one queue for every client of this master: heavy requests take turns
 * (requestQueue.ts). `may`: the requests this client may make (a dashboard session's), null
 * for all (the token's).
 */
function serveClient(hub: Hub, socket: WebSocket, requests: RequestQueue, peer: string, may: ReadonlySet<ClientRequest['type']> | null): void {
  const closers: (() => void)[] = [];
  socket.on('close', () => closers.forEach((f) => f()));
  const send = (text: string) => {
    if (socket.readyState !== socket.OPEN) return false;
    if (hub.log.tracing) hub.log.trace(traceLine('→', peer, text));
    socket.send(text);
    return true;
  };
  const reply = (msg: ClientResponse) => void send(encode(msg));
  socket.on('message', (data) => {
    if (hub.log.tracing) hub.log.trace(traceLine('←', peer, frameBytes(data)));
    const decoded = decode(ClientRequestSchema, data);
    if (!decoded.ok) {
      reply({ type: 'error', id: null, code: ErrorCodes.BAD_MESSAGE, message: decoded.error });
      return;
    }
    const req = decoded.msg;
    if (may && !may.has(req.type)) {
      reply({ type: 'error', id: req.id, code: ErrorCodes.AUTH, message: `a dashboard session may not ${req.type}${DASHBOARD_ACTS.has(req.type) ? ' (this master is -readOnly)' : ''}` });
      return;
    }
    requests.submit(req, () => {
      if (socket.readyState !== socket.OPEN) return; // it went while waiting its turn
      try {
        handleRequest(hub, req, reply, {
          onClose: (fn) => closers.push(fn),
          buffered: () => (socket.readyState === socket.OPEN ? socket.bufferedAmount : Infinity),
          sendRows: (id, rowsJson, last) => send(encodeJobRows(id, rowsJson, last)),
        });
      } catch (e) {
        // A store error (disk full, database locked) is the caller's answer, not the master's end.
        hub.log.warn(`Request ${req.type} failed: ${(e as Error).message}`);
        reply({ type: 'error', id: req.id, code: ErrorCodes.STORE, message: (e as Error).message });
      }
    });
  });
}

function serveWorker(hub: Hub, socket: WebSocket, where: string): void {
  const link = new WorkerLink(hub, socket);
  const peer = () => `worker ${link.workerHandle ?? where}`;
  socket.on('close', () => {
    try {
      link.closed();
    } catch (e) {
      hub.log.warn(`Worker disconnect not recorded: ${(e as Error).message}`);
    }
  });
  socket.on('message', (data, isBinary) => {
    if (hub.log.tracing) hub.log.trace(isBinary ? `← ${peer()} (file chunk, ${frameBytes(data).length} bytes)` : traceLine('←', peer(), frameBytes(data)));
    if (isBinary) {
      const chunk = decodeChunk(frameBytes(data));
      if (!chunk.ok) socket.send(encode({ type: 'error', id: null, code: ErrorCodes.BAD_MESSAGE, message: chunk.error }));
      else link.chunk(chunk.header, chunk.data);
      return;
    }
    const decoded = decode(WorkerMessageSchema, data);
    if (!decoded.ok) {
      socket.send(encode({ type: 'error', id: null, code: ErrorCodes.BAD_MESSAGE, message: decoded.error }));
      return;
    }
    try {
      link.handle(decoded.msg);
    } catch (e) {
      // Most likely the database (locked, disk full). What the worker said is not recorded:
      // closing makes it reconnect, say hello again and re-send what is unacknowledged.
      hub.log.warn(`Worker message ${decoded.msg.type} failed: ${(e as Error).message}; closing its connection`);
      socket.close(CloseCodes.COULD_NOT_RECORD, 'the master could not record that; reconnect');
    }
  });
}
