/**
 * `POST /v1/ingest/:dataset` on the agent's HTTP server. The answer is 200 only once the batch is committed
 * to the outbox (one transaction: all of it or none, fsynced whatever outbox.synchronous says), so a client
 * that saw 200 may forget the batch, even if the machine loses power next; any
 * other answer means nothing was kept and the client should retry (429/503 say when, in Retry-After).
 *
 * An `Idempotency-Key` header becomes the request id, and record ids are request id + index: a client that
 * retries a batch it is unsure about yields the same ids, which the stores keep once.
 *
 * An item no store would take (not UTF-8, not JSON, too deep, a NUL, a number that cannot stay exact, over
 * maxRecordBytes) is a permanent answer, not a reason to retry: it is kept as a parseError record (so it
 * reaches the DLQ with its reason and raw text), listed in the answer's `errors`, and the rest go on.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Envelope } from '@sluice/shared/envelope';
import { bearerToken, tokenDigest, tokenMatches } from '@sluice/shared/node/bearer-token';
import { jsonBatchItems, ndjsonBatchItems, truncateRaw, type BatchItem } from '@sluice/shared/json-batch';
import { recordId } from '@sluice/shared/record-id';
import type { HttpPushSourceConfig } from '@sluice/shared/agent-config/http-push';
import {
  ForbiddenError,
  InputError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  isSluiceError,
  type ErrorName,
  type SluiceError,
} from '@sluice/shared/errors';
import { sendError as sendErrorBody } from '../../http/send-error.ts';
import type { OutboxMessage, Source, SourceContext, SourceState } from '../source.ts';
import { PushSockets, type PushTarget } from './push-socket.ts';

const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines']);
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.-]{1,128}$/;

export class HttpPushSource implements Source, PushTarget {
  readonly id: string;
  readonly kind = 'http-push' as const;
  readonly dataset: string;
  readonly config: HttpPushSourceConfig;
  /** The WebSocket streams (push-socket.ts), when `websocket.enabled`. */
  readonly sockets: PushSockets | undefined;
  private readonly tokenDigest: Buffer;
  private ctx: SourceContext | undefined;
  private state: SourceState['state'] = 'stopped';
  private lastError: SourceState['lastError'];
  private stats = { requests: 0, accepted: 0, parseErrors: 0, rejected: 0, outboxFull: 0 };

  constructor(config: HttpPushSourceConfig) {
    this.id = config.id;
    this.dataset = config.dataset;
    this.config = config;
    this.tokenDigest = tokenDigest(config.token);
    this.sockets = config.websocket?.enabled === true ? new PushSockets(this) : undefined;
  }

  start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    this.state = 'running';
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.state = 'stopped';
    this.sockets?.close();
    return Promise.resolve();
  }

  /** The context while running (push-socket.ts takes streams only then). */
  running(): SourceContext | undefined {
    return this.state === 'running' && this.ctx !== undefined && !this.ctx.signal.aborted ? this.ctx : undefined;
  }

  requestIdOf(key: string): string {
    return requestIdOf(key);
  }

  /** Counts a stream's committed message (or a wait for outbox room) in the source's stats. */
  counted(accepted: number, parseErrors: number, outboxFull: boolean): void {
    this.stats.accepted += accepted;
    this.stats.parseErrors += parseErrors;
    if (outboxFull) this.stats.outboxFull++;
  }

  status(): SourceState {
    return {
      state: this.state,
      // Listening is all a push source does until someone pushes.
      ...(this.state === 'running' ? { caughtUp: true } : {}),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      details: { route: `/v1/ingest/${this.dataset}`, ...this.stats, ...(this.sockets ? { streamsOpen: this.sockets.open, streams: this.sockets.streams } : {}) },
    };
  }

  /**
   * Handles `POST /v1/ingest/<dataset>` (mounted by sources/registry.ts on the agent's HTTP server); never
   * throws: every failure is an error body.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    try {
      const ctx = this.running();
      if (ctx === undefined) throw UnavailableError('the push source is not running', { retryAfterSeconds: 1 });
      this.authorize(req.headers.authorization);
      const kind = bodyKind(req.headers['content-type']);
      const body = await readBody(req, this.config.maxBodyBytes);
      const requestId = requestIdOf(req.headers['idempotency-key']);
      const items = kind === 'json' ? parseJsonBatch(body) : ndjsonBatchItems(body);
      const { maxRecords } = this.config;
      if (items.length > maxRecords) throw PayloadTooLargeError(`batch of ${items.length} records is over the limit of ${maxRecords}`, { maxRecords });
      const { messages, errors } = this.messagesOf(ctx, items, requestId);
      // Never waits for room: the client is told when to come back (Retry-After) instead of being held open.
      const result = ctx.tryCommit(messages, [], { fsync: true }); // answered 200 below: must survive a power loss
      if (!result.committed) {
        this.stats.outboxFull++;
        // Bounds: the shipper will make room soon (429). Disk full: the agent itself is in trouble (503).
        const named = result.full === 'bounds' ? TooManyRequestsError : UnavailableError;
        return sendError(res, named(`outbox full (${result.full}): retry later`, { retryAfterSeconds: 1 }));
      }
      const parseErrors = errors.length;
      this.stats.accepted += items.length;
      this.stats.parseErrors += parseErrors;
      send(res, 200, { accepted: items.length, parseErrors, requestId, ...(parseErrors > 0 ? { errors } : {}) });
    } catch (error) {
      this.stats.rejected++;
      if (isSluiceError(error)) return sendError(res, error);
      this.lastError = { at: new Date().toISOString(), message: error instanceof Error ? error.message : String(error) };
      this.ctx?.reportError(error, { source: this.id });
      sendError(res, UnavailableError('could not commit the batch; retry later', { retryAfterSeconds: 1 }));
    }
  }

  /**
   * The outbox messages of a batch's items, ids from the request id and index; items no store would take
   * become parseError records (to the DLQ with their reason), listed in `errors`.
   */
  messagesOf(ctx: SourceContext, items: readonly BatchItem[], requestId: string, transport?: 'websocket'): { messages: OutboxMessage[]; errors: Array<{ index: number; reason: string }> } {
    const { maxRecordBytes } = this.config;
    const now = new Date().toISOString();
    const errors: Array<{ index: number; reason: string }> = [];
    const messages = items.map((item, index) => {
      const envelope = (fields: Pick<Envelope, 'payload' | 'parseError'>): Envelope => ({
        id: recordId.push(ctx.agentId, this.id, requestId, index),
        dataset: this.dataset,
        agentId: ctx.agentId,
        source: { id: this.id, kind: 'http-push', requestId, index, ...(transport === undefined ? {} : { transport }) },
        eventTime: now,
        ingestTime: now,
        ...fields,
      });
      const refuse = (reason: string, raw: string, rawEncoding: 'utf8' | 'base64'): OutboxMessage => {
        errors.push({ index, reason });
        return ctx.toMessage(envelope({ payload: null, parseError: { reason, raw: truncateRaw(raw, maxRecordBytes), rawEncoding } }));
      };
      if ('error' in item) return refuse(item.error, item.raw, item.rawEncoding);
      const message = ctx.toMessage(envelope({ payload: item.value }));
      if (message.value.length <= maxRecordBytes) return message;
      return refuse(`record is ${message.value.length} bytes, over maxRecordBytes (${maxRecordBytes}); raw text truncated`, JSON.stringify(item.value), 'utf8');
    });
    return { messages, errors };
  }

  /** Throws 401/403 unless `header` carries this source's token. */
  authorize(header: string | undefined): void {
    const token = bearerToken(header);
    if (!token) throw UnauthorizedError('a bearer token is required (Authorization: Bearer <token>)');
    if (!tokenMatches(token, this.tokenDigest)) throw ForbiddenError('the token is not valid for this dataset');
  }
}

function bodyKind(contentType: string | undefined): 'json' | 'ndjson' {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') return 'json';
  if (NDJSON_TYPES.has(type)) return 'ndjson';
  throw InputError(`content-type must be application/json (an array) or application/x-ndjson, not '${type || 'none'}'`);
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = (): SluiceError => PayloadTooLargeError(`request body is over the limit of ${maxBytes} bytes`, { maxBodyBytes: maxBytes });
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * A JSON array is the batch; a lone value is a batch of one. A body that is not JSON as a whole (unbalanced
 * brackets, a lone value that does not parse) is a 400; inside an array, each element is judged on its own.
 */
function parseJsonBatch(body: Buffer): BatchItem[] {
  const items = jsonBatchItems(body);
  if (typeof items === 'string') throw InputError(items);
  const [only] = items;
  if (items.length === 1 && only !== undefined && 'error' in only && only.error.startsWith('body is not JSON')) throw InputError(only.error);
  return items;
}

function requestIdOf(header: string | string[] | undefined): string {
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || key === '') return randomUUID();
  // Keys that could not be an id part (':' or too long) are hashed: still stable across the client's retries.
  return IDEMPOTENCY_KEY.test(key) ? key : createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/** Refusals that may come before the body was read (auth, size): the connection is closed, not drained. */
const BODY_MAYBE_UNREAD: ReadonlySet<ErrorName> = new Set(['PayloadTooLargeError', 'UnauthorizedError', 'ForbiddenError']);

function sendError(res: ServerResponse, error: SluiceError): void {
  sendErrorBody(res, error, { closeConnection: BODY_MAYBE_UNREAD.has(error.name) });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
