/**
 * The two HTTP targets, one request per batch (a JSON array of payloads) with an Idempotency-Key, so a
 * retried request yields the same record ids (request id + index) and lands once:
 *
 *   agent    POST <url>/v1/ingest/<dataset>       the agent's http-push source, `Authorization: Bearer <push token>`
 *            answers {accepted, parseErrors, errors?}; 200 means committed to the agent's outbox
 *   ingest   POST <url>/api/v1/ingest/<dataset>   the control plane's batch ingest, an operator API key or login
 *            answers {accepted, rejected, items}; 200 means produced to Kafka
 */
import { Pool } from 'undici';
import { RetryableError, parseRetryAfter, withRetry } from '@sluice/shared/node/retry';
import type { SimEvent } from '../event-stream.ts';
import { PermanentSendError, type SendResult, type SimTarget } from './target.ts';

export interface HttpTargetOptions {
  kind: 'agent' | 'ingest';
  url: string;
  dataset: string;
  token: string;
  connections: number;
  /** How long one batch is retried before the run gives up (default 60 s). */
  retryDeadlineMs?: number;
  signal?: AbortSignal;
}

interface AgentAnswer {
  accepted: number;
  parseErrors: number;
  errors?: Array<{ index: number; reason: string }>;
}
interface IngestAnswer {
  accepted: number;
  rejected: number;
  items: Array<{ index: number; status: string; reason?: string }>;
}

export class HttpTarget implements SimTarget {
  readonly name: 'agent' | 'ingest';
  readonly #o: HttpTargetOptions;
  readonly #pool: Pool;
  readonly #path: string;
  /** Requests tried again (429, 503, a lost connection). */
  retries = 0;

  constructor(options: HttpTargetOptions) {
    const url = new URL(options.url);
    this.name = options.kind;
    this.#o = options;
    this.#pool = new Pool(url.origin, { connections: options.connections, pipelining: 1 });
    const base = url.pathname.replace(/\/+$/, '');
    this.#path = `${base}${options.kind === 'agent' ? '/v1/ingest/' : '/api/v1/ingest/'}${encodeURIComponent(options.dataset)}`;
  }

  async send(events: readonly SimEvent[], batchKey: string): Promise<SendResult> {
    const body = JSON.stringify(events.map((e) => e.payload));
    return withRetry(() => this.#post(body, batchKey), {
      retries: Infinity,
      deadlineMs: this.#o.retryDeadlineMs ?? 60_000,
      minDelayMs: 100,
      maxDelayMs: 5_000,
      ...(this.#o.signal ? { signal: this.#o.signal } : {}),
      onRetry: () => void this.retries++,
      // A refused connection or a reset is the receiver restarting: worth another try.
      isRetryable: (error) =>
        error instanceof RetryableError ||
        (!(error instanceof PermanentSendError) &&
          /ECONNREFUSED|ECONNRESET|socket|other side closed|UND_ERR/i.test(
            `${error.message} ${(error as { code?: string }).code ?? ''}`,
          )),
    });
  }

  async #post(body: string, batchKey: string): Promise<SendResult> {
    const res = await this.#pool.request({
      method: 'POST',
      path: this.#path,
      headers: {
        authorization: `Bearer ${this.#o.token}`,
        'content-type': 'application/json',
        'idempotency-key': batchKey,
      },
      body,
    });
    const text = await res.body.text();
    if (res.statusCode === 429 || res.statusCode >= 500) {
      const after = res.headers['retry-after'];
      const retryAfterMs = parseRetryAfter(Array.isArray(after) ? after[0] : after);
      throw new RetryableError(
        `${this.name} answered ${res.statusCode}: ${text.slice(0, 200)}`,
        retryAfterMs === undefined ? {} : { retryAfterMs },
      );
    }
    if (res.statusCode !== 200)
      throw new PermanentSendError(
        `${this.name} answered ${res.statusCode} to POST ${this.#path}: ${errorMessage(text)}`,
      );
    if (this.name === 'agent') {
      const answer = JSON.parse(text) as AgentAnswer;
      return {
        accepted: answer.accepted - answer.parseErrors,
        rejected: answer.parseErrors,
        reasons: (answer.errors ?? []).slice(0, 3).map((e) => e.reason),
      };
    }
    const answer = JSON.parse(text) as IngestAnswer;
    const reasons = answer.items
      .filter((i) => i.status === 'rejected')
      .slice(0, 3)
      .map((i) => i.reason ?? 'rejected');
    return { accepted: answer.accepted, rejected: answer.rejected, reasons };
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** The message of Sluice's error body ({error: {name, message}}), else the start of the text. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { name?: string; message?: string } };
    if (body.error?.message) return `${body.error.name ?? 'Error'}: ${body.error.message}`;
  } catch {
    // not JSON: the text itself says it
  }
  return text.slice(0, 300);
}
