// The page's connection to the master: the same WebSocket and the same requests as the CLI's
// (protocol/clientMessages.ts), authenticated by the session cookie. Reconnects after a
// second when the master goes away; requests made meanwhile fail, and the pages retry on
// their next refresh.
import type { ClientRequestBody, ClientResponse } from '../../protocol/clientMessages.js';

type Handler = (msg: ClientResponse) => boolean;

export class Api {
  private opened: Promise<WebSocket> | null = null;
  private nextId = 1;
  private readonly handlers = new Map<number, { on: Handler; fail: (e: Error) => void }>();
  /** Called when the connection opens or drops: the page shows it. */
  onState: (connected: boolean) => void = () => {};

  private connect(): Promise<WebSocket> {
    this.opened ??= new Promise((resolve, reject) => {
      const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`, 'q-dashboard');
      ws.onopen = () => {
        this.onState(true);
        resolve(ws);
      };
      ws.onmessage = (ev) => {
        const msg = JSON.parse(String(ev.data)) as ClientResponse;
        if (msg.id === null) return;
        const h = this.handlers.get(msg.id);
        if (!h) return;
        if (msg.type === 'error') {
          this.handlers.delete(msg.id);
          h.fail(new Error(msg.message));
        } else if (h.on(msg)) this.handlers.delete(msg.id);
      };
      ws.onclose = () => {
        this.opened = null;
        this.onState(false);
        for (const h of this.handlers.values()) h.fail(new Error('the master went away'));
        this.handlers.clear();
        reject(new Error('cannot reach the master'));
      };
    });
    return this.opened;
  }

  /** Sends a request; `on` gets each answer until it returns true. */
  async stream(req: ClientRequestBody, on: Handler): Promise<void> {
    const ws = await this.connect();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.handlers.set(id, {
        on: (msg) => {
          const done = on(msg);
          if (done) resolve();
          return done;
        },
        fail: reject,
      });
      ws.send(JSON.stringify({ ...req, id }));
    });
  }

  /** One request, one answer of the type expected. */
  async request<T extends ClientResponse['type']>(req: ClientRequestBody, type: T): Promise<Extract<ClientResponse, { type: T }>> {
    let answer: ClientResponse | undefined;
    await this.stream(req, (msg) => {
      answer = msg;
      return true;
    });
    if (answer?.type !== type) throw new Error(`unexpected answer ${answer?.type} to ${req.type}`);
    return answer as Extract<ClientResponse, { type: T }>;
  }
}

export const api = new Api();
