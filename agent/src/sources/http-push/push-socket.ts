/**
 * WebSocket streams of an http-push source (docs/sources/http-push.md, "WebSocket"): an Upgrade on
 * `/v1/ingest/<dataset>` with the source's token. Each message is a batch, as a POST body would be (a JSON
 * array, or one value), numbered 1, 2, … on its stream (from `resume` when the client reconnects), and
 * answered `{"ack": n, …}` once it is committed to the outbox, fsynced.
 *
 *   ids      request id `<stream>-<n>` when the client names its stream (`x-sluice-stream` header or `stream`
 *            query parameter), so a client that resends unacknowledged messages after a reconnect, with
 *            `resume` set to the first of them, yields the same record ids; otherwise `<connection>-<n>`
 *   order    acks come in message order; what is queued when an ack is written is committed in one
 *            transaction (group commit: one fsync for many small messages)
 *   full     while the outbox is full, acks are withheld and the socket is not read (TCP backpressure); after
 *            `fullTimeoutMs` the stream is closed with 1013 "try again later": unacknowledged messages were
 *            not kept, and the client sends them again
 *   refusal  a message with more records than `maxRecords` is answered `{"nack": n, "error": …}` (permanent,
 *            nothing kept); a message that is not JSON, or items no store would take, become parseError
 *            records (to the DLQ with their reason), listed in the ack's `errors`
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { base64 } from '@sluice/shared/text-codec';
import { jsonBatchItems, type BatchItem } from '@sluice/shared/json-batch';
import { errorResponse, isSluiceError, UnavailableError, type SluiceError } from '@sluice/shared/errors';
import type { HttpPushSourceConfig } from '@sluice/shared/agent-config/http-push';
import type { OutboxMessage, SourceContext } from '../source.ts';

/** What a stream needs of its source (http-push-source.ts). */
export interface PushTarget {
  readonly config: HttpPushSourceConfig;
  running(): SourceContext | undefined;
  authorize(header: string | undefined): void;
  messagesOf(ctx: SourceContext, items: readonly BatchItem[], requestId: string, transport: 'websocket'): { messages: OutboxMessage[]; errors: Array<{ index: number; reason: string }> };
  requestIdOf(key: string): string;
  counted(accepted: number, parseErrors: number, outboxFull: boolean): void;
}

const PROTOCOL = 'sluice.v1';
const BEARER_PROTOCOL = 'bearer.';
const RETRY_MS = 100;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TRY_AGAIN_LATER = 1013;

export class PushSockets {
  readonly #target: PushTarget;
  readonly #server: WebSocketServer;
  readonly #open = new Set<WebSocket>();
  #streams = 0;

  constructor(target: PushTarget) {
    this.#target = target;
    const ws = target.config.websocket ?? {};
    this.#server = new WebSocketServer({
      noServer: true,
      maxPayload: ws.maxMessageBytes ?? 1024 * 1024,
      // A browser cannot send Authorization: it offers `sluice.v1` and `bearer.<token>`; the answer names the first.
      handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
    });
  }

  get open(): number {
    return this.#open.size;
  }

  get streams(): number {
    return this.#streams;
  }

  /** Takes an Upgrade request: authorized and under maxStreams, it becomes a stream; else an HTTP error. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ctx = this.#target.running();
    try {
      if (ctx === undefined) throw UnavailableError('the push source is not running', { retryAfterSeconds: 1 });
      this.#target.authorize(req.headers.authorization ?? bearerFromProtocols(req.headers['sec-websocket-protocol']));
      const max = this.#target.config.websocket?.maxStreams ?? 1000;
      if (this.#open.size >= max) throw UnavailableError(`${max} streams are open, the most this source takes`, { retryAfterSeconds: 5 });
    } catch (error) {
      return refuse(socket, isSluiceError(error) ? error : UnavailableError('could not open the stream'));
    }
    const url = new URL(req.url ?? '/', 'http://agent');
    const key = header(req.headers['x-sluice-stream']) ?? url.searchParams.get('stream') ?? undefined;
    const resume = Number(header(req.headers['x-sluice-resume']) ?? url.searchParams.get('resume') ?? 1);
    const prefix = key === undefined || key === '' ? randomUUID() : this.#target.requestIdOf(key);
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      this.#open.add(ws);
      this.#streams++;
      ws.once('close', () => this.#open.delete(ws));
      new Stream(this.#target, ctx, ws, prefix, Number.isSafeInteger(resume) && resume >= 1 ? resume : 1);
    });
  }

  /** Closes every stream (1001): the source stops. */
  close(): void {
    for (const ws of this.#open) ws.close(CLOSE_GOING_AWAY, 'source stopping');
  }
}

interface Built {
  seq: number;
  requestId: string;
  items: BatchItem[];
  messages: OutboxMessage[];
  errors: Array<{ index: number; reason: string }>;
}

class Stream {
  readonly #target: PushTarget;
  readonly #ctx: SourceContext;
  readonly #ws: WebSocket;
  readonly #prefix: string;
  readonly #queue: Array<{ seq: number; data: Buffer }> = [];
  /** Messages taken from the queue and built, waiting for their commit (in order, before the queue). */
  #built: Built[] = [];
  #next: number;
  #busy = false;
  #paused = false;

  constructor(target: PushTarget, ctx: SourceContext, ws: WebSocket, prefix: string, first: number) {
    this.#target = target;
    this.#ctx = ctx;
    this.#ws = ws;
    this.#prefix = prefix;
    this.#next = first;
    ws.on('message', (data) => this.#received(data));
    ws.on('error', () => ws.terminate());
  }

  get #maxPending(): number {
    return this.#target.config.websocket?.maxPending ?? 256;
  }

  #received(data: RawData): void {
    this.#queue.push({ seq: this.#next++, data: Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer) });
    if (this.#queue.length >= this.#maxPending && !this.#paused) {
      this.#paused = true;
      this.#ws.pause();
    }
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#queue.length + this.#built.length > 0 && this.#ws.readyState === this.#ws.OPEN) {
        if (!(await this.#commitQueued())) return;
        if (this.#paused && this.#queue.length + this.#built.length < this.#maxPending / 2) {
          this.#paused = false;
          this.#ws.resume();
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Commits what is queued (up to maxRecords records) in one transaction and acks it; false once closed. A
   * group the outbox has no room for is cut to its first message (the rest wait in `#built`), which waits for
   * room on its own: a full outbox takes messages one at a time as the shipper frees rows.
   */
  async #commitQueued(): Promise<boolean> {
    const built = this.#built.length > 0 ? this.#built.splice(0) : this.#take();
    if (built.length === 0) return true;
    let group = built;
    const deadline = Date.now() + (this.#target.config.websocket?.fullTimeoutMs ?? 30_000);
    for (let waited = false; ; ) {
      if (this.#ws.readyState !== this.#ws.OPEN || this.#ctx.signal.aborted) return false;
      const result = this.#ctx.tryCommit(group.flatMap((b) => b.messages), [], { fsync: true }); // acked below: must survive a power loss
      if (result.committed) break;
      if (group.length > 1) {
        group = group.slice(0, 1);
        continue;
      }
      if (!waited) this.#target.counted(0, 0, true);
      waited = true;
      if (!this.#paused) {
        this.#paused = true;
        this.#ws.pause();
      }
      if (Date.now() >= deadline) {
        // Reading again, so the client's answer to the close frame is seen and the close completes.
        this.#ws.resume();
        this.#ws.close(CLOSE_TRY_AGAIN_LATER, `outbox full (${result.full}): try again later`);
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    this.#built = built.slice(group.length);
    for (const b of group) {
      this.#target.counted(b.items.length, b.errors.length, false);
      this.#send({ ack: b.seq, accepted: b.items.length, parseErrors: b.errors.length, requestId: b.requestId, ...(b.errors.length > 0 ? { errors: b.errors } : {}) });
    }
    return true;
  }

  /** The queued messages (up to maxRecords records) as outbox messages; a message over maxRecords is nacked. */
  #take(): Built[] {
    const { maxRecords } = this.#target.config;
    const out: Built[] = [];
    let records = 0;
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const items = itemsOf(head.data);
      if (items.length > maxRecords) {
        if (out.length > 0) break;
        this.#queue.shift();
        this.#send({ nack: head.seq, error: { name: 'PayloadTooLargeError', message: `message of ${items.length} records is over the limit of ${maxRecords}`, retryable: false } });
        continue;
      }
      if (out.length > 0 && records + items.length > maxRecords) break;
      this.#queue.shift();
      const requestId = `${this.#prefix}-${head.seq}`;
      out.push({ seq: head.seq, requestId, items, ...this.#target.messagesOf(this.#ctx, items, requestId, 'websocket') });
      records += items.length;
    }
    return out;
  }

  #send(body: unknown): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify(body));
  }
}

/** A message's items: an array's elements or the one value; a message that is not JSON is one parseError item. */
function itemsOf(data: Buffer): BatchItem[] {
  const items = jsonBatchItems(data);
  if (typeof items !== 'string') return items;
  return [{ error: `the message is not JSON: ${items}`, raw: base64(data), rawEncoding: 'base64' }];
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function bearerFromProtocols(value: string | string[] | undefined): string | undefined {
  const offered = (header(value) ?? '').split(',').map((p) => p.trim());
  const token = offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length);
  return token === undefined || token === '' ? undefined : `Bearer ${token}`;
}

/** An HTTP answer on a socket not upgraded: status, the error body, closed. */
function refuse(socket: Duplex, error: SluiceError): void {
  const { status, headers, body } = errorResponse(error, { defaultRetryAfterSeconds: 1 });
  const text = JSON.stringify(body);
  const lines = Object.entries({ ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}\r\n${text}`);
}
