// A client's conversation with the master: connect with the token, send requests, and read
// the answers that carry each request's id. A master that cannot be reached, or does not
// complete the handshake, within the timeout is an error, not a hang; a closed connection
// fails every request still waiting.
import { WebSocket } from 'ws';
import { ErrorCodes, QError } from '../common/errors.js';
import { traceLine } from '../common/verbosity.js';
import { ClientResponseSchema, type ClientRequestBody, type ClientResponse } from '../protocol/clientMessages.js';
import { decode, encode, frameBytes } from '../protocol/codec.js';
import type { JobView } from '../protocol/jobState.js';
import { listRowOf, type ListRow } from '../protocol/listRow.js';

export interface Target {
  host: string;
  port: number;
  token: string;
  timeoutMs: number;
  /** Speak wss:// and trust this certificate (e.g. the master's own, self-signed). */
  ca?: Buffer;
  /** -verbose 2: every frame, both ways, one line each. */
  trace?: (line: string) => void;
}

type Waiter = (msg: ClientResponse) => void;

/** A listing of every job is one answer: 512 MB holds about a million of them. */
const MAX_ANSWER_BYTES = 512 * 1024 * 1024;

export class Connection {
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private failure: QError | null = null;

  private constructor(
    private readonly ws: WebSocket,
    private readonly trace: ((line: string) => void) | undefined,
  ) {
    ws.on('message', (data) => {
      if (trace) trace(traceLine('←', 'master', frameBytes(data)));
      const decoded = decode(ClientResponseSchema, data, MAX_ANSWER_BYTES);
      if (!decoded.ok) return this.fail(new QError(ErrorCodes.BAD_MESSAGE, `bad answer from master: ${decoded.error}`));
      const msg = decoded.msg;
      if (msg.id === null) return this.fail(new QError(ErrorCodes.BAD_MESSAGE, `master: ${msg.type === 'error' ? msg.message : 'unexpected message'}`));
      this.waiters.get(msg.id)?.(msg);
    });
    ws.on('close', () => this.fail(new QError(ErrorCodes.NO_MASTER, 'the master closed the connection')));
    ws.on('error', () => {});
  }

  static open(t: Target): Promise<Connection> {
    const where = `${t.host}:${t.port}`;
    const url = `${t.ca ? 'wss' : 'ws'}://${t.host}:${t.port}/`;
    t.trace?.(`connecting to ${url}`);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        ...(t.ca ? { ca: t.ca } : {}),
        headers: { authorization: `Bearer ${t.token}`, 'x-q-role': 'client' },
        handshakeTimeout: t.timeoutMs,
        maxPayload: MAX_ANSWER_BYTES, // a listing of many jobs is one large frame
        perMessageDeflate: false,
      });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new QError(ErrorCodes.NO_MASTER, `no answer from the master at ${where} within ${t.timeoutMs / 1000}s`));
      }, t.timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new Connection(ws, t.trace));
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        ws.terminate();
        if (res.statusCode === 503) {
          reject(new QError(ErrorCodes.BUSY, `the master at ${where} turned this connection away: too many connections are waiting for it (try again shortly)`));
          return;
        }
        const reason = res.statusCode === 401 ? 'wrong or missing token (-token, Q_TOKEN, or the master state directory)' : `${res.statusCode} ${res.statusMessage}`;
        reject(new QError(ErrorCodes.AUTH, `the master at ${where} refused the connection: ${reason}`));
      });
      ws.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = e.code === 'ECONNREFUSED' ? 'nothing is listening there' : e.message;
        reject(new QError(ErrorCodes.NO_MASTER, `cannot reach the master at ${where}: ${why} (is q -mode master running?)`));
      });
    });
  }

  private fail(e: QError): void {
    if (this.failure) return;
    this.failure = e;
    for (const w of this.waiters.values()) w({ type: 'error', id: 0, code: e.code, message: e.message });
    this.waiters.clear();
  }

  /**
   * Reads nothing more from the master until `out` drains. A client that cannot write out
   * what comes as fast as it comes (a log into a slow pipe: stdout buffers what the pipe does
   * not take) then holds what it has read, not all that follows: the socket's window fills
   * and the master's sending waits.
   */
  waitForDrain(out: NodeJS.WritableStream): void {
    if (this.ws.isPaused) return;
    this.ws.pause();
    out.once('drain', () => this.ws.resume());
  }

  /** Sends a request and calls `onMessage` for each answer until it returns true. */
  stream(req: ClientRequestBody, onMessage: (msg: ClientResponse) => boolean): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.waiters.set(id, (msg) => {
        if (msg.type === 'error') {
          this.waiters.delete(id);
          reject(new QError(msg.code, msg.message));
          return;
        }
        try {
          if (onMessage(msg)) {
            this.waiters.delete(id);
            resolve();
          }
        } catch (e) {
          this.waiters.delete(id);
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
      const text = encode({ ...req, id });
      this.trace?.(traceLine('→', 'master', text));
      this.ws.send(text);
    });
  }

  /** One request, one answer of the expected type. */
  async request<T extends ClientResponse['type']>(
    req: ClientRequestBody,
    type: T,
  ): Promise<Extract<ClientResponse, { type: T }>> {
    let answer: ClientResponse | undefined;
    await this.stream(req, (msg) => {
      answer = msg;
      return true;
    });
    if (answer?.type !== type) throw new QError(ErrorCodes.BAD_MESSAGE, `unexpected answer ${answer?.type} to ${req.type}`);
    return answer as Extract<ClientResponse, { type: T }>;
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * -list's rows as the master sends them, page by page (`last` on the final call). A master
 * from before rows answers with pages of views, or one `jobs`: their rows are cut from them.
 */
export async function listRows(conn: Connection, specs: string[], onRows: (rows: ListRow[], last: boolean) => void): Promise<void> {
  await conn.stream({ type: 'list', specs, page: true, rows: true }, (msg) => {
    if (msg.type === 'jobRows') {
      onRows(msg.rows, msg.last);
      return msg.last;
    }
    if (msg.type === 'jobsPage' || msg.type === 'jobs') {
      const last = msg.type === 'jobs' || msg.last;
      onRows(msg.jobs.map(listRowOf), last);
      return last;
    }
    throw new QError(ErrorCodes.BAD_MESSAGE, `unexpected answer ${msg.type} to list`);
  });
}

/**
 * A listing as the master sends it, page by page (`last` on the final call). A master from
 * before pages answers with one `jobs`: that is one last page.
 */
export async function listPages(conn: Connection, specs: string[], onPage: (jobs: JobView[], last: boolean) => void): Promise<void> {
  await conn.stream({ type: 'list', specs, page: true }, (msg) => {
    if (msg.type === 'jobsPage') {
      onPage(msg.jobs, msg.last);
      return msg.last;
    }
    if (msg.type === 'jobs') {
      onPage(msg.jobs, true);
      return true;
    }
    throw new QError(ErrorCodes.BAD_MESSAGE, `unexpected answer ${msg.type} to list`);
  });
}
