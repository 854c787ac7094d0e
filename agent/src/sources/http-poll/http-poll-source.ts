/**
 * Polls one REST endpoint every `intervalMs`. A poll walks a chain of pages; each page's records are
 * committed in the same outbox transaction as the checkpoint naming the next page (and, at the chain's end,
 * the new incremental watermark). A crash therefore resumes at exactly the first uncommitted page: no page
 * is skipped and none is committed twice.
 *
 * Record ids name what a record is, not where it stood (record-key.ts): `idField`, or a hash of its content
 * and the endpoint. Polling a full (non-incremental) endpoint again therefore ships the same ids, which the
 * stores drop as duplicates, instead of loading everything again.
 *
 * The last successful poll's time is committed with the final page's checkpoint, so a restart waits for the
 * rest of `intervalMs` instead of polling at once (an agent that restarts often must not hammer the API).
 *
 * Each request: token bucket → opossum breaker (per endpoint; 429 and other 4xx do not count as failures)
 * → got. Around it, withRetry retries network errors, timeouts, 408/429/5xx with jittered backoff that
 * honours Retry-After; an open breaker ends the poll at once and the next one is tried after
 * min(intervalMs, breaker.resetTimeoutMs), when the breaker lets one trial through (half-open).
 *
 * We drive the page loop ourselves instead of got's `paginate`: it issues requests internally, so it
 * cannot commit per page nor put each request behind the breaker, retry and rate limit.
 */
import CircuitBreaker from 'opossum';
import got, { RequestError, type Response } from 'got';
import type { Envelope } from '@sluice/shared/envelope';
import { truncateRaw } from '@sluice/shared/json-batch';
import { recordId } from '@sluice/shared/record-id';
import type { HttpPollSourceConfig } from '@sluice/shared/agent-config/http-poll';
import { RetryableError, parseRetryAfter, withRetry } from '@sluice/shared/node/retry';
import type { Source, SourceContext, SourceState } from '../source.ts';
import { atPath } from '@sluice/shared/dot-path';
import { firstPageUrl, nextPageUrl } from '@sluice/shared/node/http-pagination';
import { RecordKeys } from '@sluice/shared/node/record-key';
import { TokenBucket } from './token-bucket.ts';

export type BreakerState = 'closed' | 'half-open' | 'open';
/** The gauge value of `sluice_agent_breaker_state`. */
export const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** What the `poll` checkpoint holds. */
interface PollCheckpoint {
  /** URL of the next page of the chain in progress (or, for a cursor feed, where the next poll starts). */
  next?: string;
  /** Highest watermark of the chain in progress so far; becomes `watermark` when the chain ends. */
  chainWatermark?: string;
  /** Incremental watermark of the last finished chain. */
  watermark?: string;
  /** When the last poll that succeeded (chain ended or paused at its cursor) finished, epoch ms. */
  polledAt?: number;
}

/** A response the breaker saw; 4xx except 408 are the client's problem and do not trip it. */
class HttpStatusError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpStatusError';
    this.status = status;
  }
}

export interface HttpPollSourceOptions {
  /** Called on every breaker transition (the runtime's gauge). */
  onBreakerState?: (state: BreakerState, endpoint: string) => void;
}

const CHECKPOINT_KEY = 'poll';

export class HttpPollSource implements Source {
  readonly id: string;
  readonly kind = 'http-poll' as const;
  /** Origin and path only: query strings and credentials never reach status or metrics labels. */
  readonly endpoint: string;
  private readonly config: HttpPollSourceConfig;
  private readonly options: HttpPollSourceOptions;
  private readonly breaker: CircuitBreaker<[string, AbortSignal], Response<string>>;
  private readonly bucket: TokenBucket | undefined;
  private readonly keys: RecordKeys;
  private readonly stopController = new AbortController();
  private ctx: SourceContext | undefined;
  private loop: Promise<void> | undefined;
  private state: SourceState['state'] = 'stopped';
  private breakerState: BreakerState = 'closed';
  private lastError: SourceState['lastError'];
  private nextPollAt: string | undefined;
  /** A poll went through to the end of its chain once. */
  private caughtUp = false;
  private stats = { polls: 0, pages: 0, records: 0, parseErrors: 0, lastPollAt: undefined as string | undefined };

  constructor(config: HttpPollSourceConfig, options: HttpPollSourceOptions = {}) {
    this.id = config.id;
    this.config = config;
    this.options = options;
    const url = new URL(config.url);
    this.endpoint = `${url.origin}${url.pathname}`;
    this.keys = new RecordKeys(this.endpoint, config.idField);
    this.bucket = config.rateLimit ? new TokenBucket(config.rateLimit.requestsPerSecond) : undefined;
    const { breaker } = config;
    this.breaker = new CircuitBreaker((target: string, signal: AbortSignal) => this.request(target, signal), {
      timeout: breaker.timeoutMs,
      errorThresholdPercentage: breaker.errorThresholdPercentage,
      resetTimeout: breaker.resetTimeoutMs,
      volumeThreshold: breaker.volumeThreshold,
      errorFilter: (error: unknown) => error instanceof HttpStatusError && error.status !== 408 && error.status < 500,
    });
    this.breaker.on('open', () => this.setBreaker('open'));
    this.breaker.on('halfOpen', () => this.setBreaker('half-open'));
    this.breaker.on('close', () => this.setBreaker('closed'));
  }

  start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    this.state = 'running';
    // Report the initial state too, so the gauge exists (at 0) before the first transition.
    this.options.onBreakerState?.(this.breakerState, this.endpoint);
    this.loop = this.run(AbortSignal.any([ctx.signal, this.stopController.signal]));
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.loop;
    this.breaker.shutdown();
    this.state = 'stopped';
  }

  status(): SourceState {
    const checkpoint = this.readCheckpoint();
    const position = checkpoint.watermark === undefined ? undefined : `watermark=${checkpoint.watermark}`;
    return {
      state: this.state,
      ...(this.caughtUp ? { caughtUp: true } : {}),
      ...(position === undefined ? {} : { position }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      details: {
        endpoint: this.endpoint,
        breaker: this.breakerState,
        breakerState: BREAKER_GAUGE[this.breakerState],
        midChain: checkpoint.next !== undefined,
        ...this.stats,
        ...(checkpoint.polledAt === undefined ? {} : { lastSuccessAt: new Date(checkpoint.polledAt).toISOString() }),
        ...(this.nextPollAt === undefined ? {} : { nextPollAt: this.nextPollAt }),
      },
    };
  }

  private async run(signal: AbortSignal): Promise<void> {
    const interval = this.config.intervalMs;
    // After a restart: the rest of the interval since the last successful poll (at most one interval, in
    // case the clock went back).
    const { clock } = this.requireCtx();
    const polledAt = this.readCheckpoint().polledAt;
    let delay = polledAt === undefined ? 0 : Math.max(0, Math.min(interval, polledAt + interval - clock.now()));
    while (!signal.aborted) {
      if (delay > 0) {
        this.nextPollAt = new Date(clock.now() + delay).toISOString();
        try {
          await clock.sleep(delay, { signal });
        } catch {
          break;
        }
      }
      this.nextPollAt = undefined;
      delay = interval;
      try {
        await this.poll(signal);
        this.state = 'running';
        this.caughtUp = true;
      } catch (error) {
        if (signal.aborted) break;
        this.state = 'backoff';
        this.fail(error);
        delay = Math.min(delay, this.config.breaker.resetTimeoutMs);
      }
    }
  }

  /** One poll: pages from the checkpoint's `next` (or the first page) until the chain ends or pauses. */
  private async poll(signal: AbortSignal): Promise<void> {
    const ctx = this.requireCtx();
    this.stats.polls++;
    this.stats.lastPollAt = new Date(ctx.clock.now()).toISOString();
    let cp = this.readCheckpoint();
    let url = cp.next ?? firstPageUrl(this.config, cp.watermark ?? this.config.incremental?.initial);
    let chainWatermark = cp.chainWatermark;
    for (let pages = 0; ; pages++) {
      signal.throwIfAborted();
      const response = await this.fetchPage(url, signal);
      const parsed = this.parse(response);
      if ('error' in parsed) {
        // Keep the data (a parseError record) and the position (same page next time).
        const raw = truncateRaw(response.body, this.config.maxRecordBytes);
        const envelope = this.envelope(ctx, this.keys.parseError(url, response.body), null, { reason: parsed.error, raw });
        const next: PollCheckpoint = { ...cp, next: url, ...(chainWatermark === undefined ? {} : { chainWatermark }) };
        await ctx.commit([ctx.toMessage(envelope)], [this.checkpointOf(next)]);
        this.stats.parseErrors++;
        throw new Error(`${this.endpoint}: ${parsed.error}`);
      }
      const { body, records } = parsed;
      const messages = records.map((item) => ctx.toMessage(this.recordEnvelope(ctx, item)));
      chainWatermark = this.watermarkOf(records) ?? chainWatermark;
      const following = nextPageUrl(this.config, url, response, body, records.length);
      // A cursor feed that has nothing new keeps its cursor for the next poll instead of ending the chain.
      const pauseAtCursor = this.config.pagination?.type === 'cursor' && following !== undefined && (records.length === 0 || following === url);
      let next: PollCheckpoint;
      if (following !== undefined && records.length > 0 && following !== url) {
        next = { ...cp, next: following, ...(chainWatermark === undefined ? {} : { chainWatermark }) };
      } else if (pauseAtCursor) {
        next = { ...cp, next: following, ...(chainWatermark === undefined ? {} : { chainWatermark }), polledAt: ctx.clock.now() };
      } else {
        const watermark = chainWatermark ?? cp.watermark;
        next = { ...(watermark === undefined ? {} : { watermark }), polledAt: ctx.clock.now() };
      }
      await ctx.commit(messages, [this.checkpointOf(next)]);
      // A page went through: whatever retries or outage came before, the source is working again.
      this.state = 'running';
      cp = next;
      this.stats.pages++;
      this.stats.records += records.length;
      if (next.next === undefined || pauseAtCursor) return;
      url = next.next;
    }
  }

  private async fetchPage(url: string, signal: AbortSignal): Promise<Response<string>> {
    const { retry } = this.config;
    return withRetry(
      async () => {
        await this.bucket?.take(signal);
        try {
          return await this.breaker.fire(url, signal);
        } catch (error) {
          if ((error as { code?: string }).code === 'ETIMEDOUT') throw new RetryableError(`${this.endpoint}: timed out`, { cause: error });
          throw error;
        }
      },
      {
        retries: retry.retries,
        minDelayMs: retry.minDelayMs,
        maxDelayMs: retry.maxDelayMs,
        signal,
        onRetry: (error, attempt, delayMs) => {
          this.state = 'backoff';
          this.ctx?.log.debug({ source: this.id, endpoint: this.endpoint, attempt, delayMs, reason: error.message }, 'poll retry');
        },
      },
    );
  }

  /** The breaker's action: one HTTP request, classified. */
  private async request(url: string, signal: AbortSignal): Promise<Response<string>> {
    const controller = new AbortController();
    const both = AbortSignal.any([signal, controller.signal]);
    const max = this.config.maxResponseBytes;
    let tooBig = false;
    let response: Response<string>;
    try {
      const pending = got(url, {
        method: this.config.method,
        headers: { accept: 'application/json', ...this.config.headers, ...this.authHeaders() },
        timeout: { request: this.config.timeoutMs },
        retry: { limit: 0 },
        throwHttpErrors: false,
        responseType: 'text',
        signal: both,
      });
      void pending.on('downloadProgress', (progress: { transferred: number; total?: number }) => {
        if (progress.transferred > max || (progress.total ?? 0) > max) {
          tooBig = true;
          controller.abort();
        }
      });
      response = await pending;
    } catch (error) {
      if (tooBig) throw new HttpStatusError(413, `${this.endpoint}: response over maxResponseBytes (${max})`);
      if (signal.aborted) throw error;
      // Network trouble (refused, reset, DNS, timeout) is worth retrying.
      const code = error instanceof RequestError ? error.code : undefined;
      throw new RetryableError(`${this.endpoint}: ${code ?? (error as Error).message}`, { cause: error });
    }
    const status = response.statusCode;
    if (status >= 200 && status < 300) return response;
    const retryAfterMs = parseRetryAfter(headerValue(response.headers['retry-after']));
    if (status === 429) throw new RetryableError(`${this.endpoint}: HTTP 429`, retryAfterMs === undefined ? {} : { retryAfterMs });
    if (status >= 500 || status === 408) {
      throw Object.assign(new RetryableError(`${this.endpoint}: HTTP ${status}`, retryAfterMs === undefined ? {} : { retryAfterMs }), { status });
    }
    throw new HttpStatusError(status, `${this.endpoint}: HTTP ${status}`);
  }

  private parse(response: Response<string>): { body: unknown; records: unknown[] } | { error: string } {
    let body: unknown;
    try {
      body = JSON.parse(response.body) as unknown;
    } catch (error) {
      const type = headerValue(response.headers['content-type']) ?? 'no content-type';
      return { error: `response is not JSON (${type}): ${(error as Error).message}` };
    }
    const path = this.config.recordsPath;
    const records = atPath(body, path);
    if (!Array.isArray(records)) return { error: `recordsPath '${path}' does not lead to an array in the response` };
    return { body, records: records as unknown[] };
  }

  /** A record of a page; one without its `idField` is shipped as a parseError, so it reaches the DLQ. */
  private recordEnvelope(ctx: SourceContext, item: unknown): Envelope {
    const keyed = this.keys.of(item);
    if (keyed.problem === undefined) return this.envelope(ctx, keyed.key, item);
    return this.envelope(ctx, keyed.key, null, { reason: keyed.problem, raw: truncateRaw(JSON.stringify(item), this.config.maxRecordBytes) });
  }

  private envelope(ctx: SourceContext, key: string, payload: unknown, parseError?: { reason: string; raw: string }): Envelope {
    const now = new Date().toISOString();
    return {
      id: recordId.poll(ctx.agentId, this.id, key),
      dataset: this.config.dataset,
      agentId: ctx.agentId,
      // The page's URL is not shipped: its query may carry a key.
      source: { id: this.id, kind: 'http-poll', endpoint: this.endpoint, key },
      eventTime: now,
      ingestTime: now,
      payload,
      ...(parseError === undefined ? {} : { parseError }),
    };
  }

  private watermarkOf(records: unknown[]): string | undefined {
    const from = this.config.incremental?.fromPath;
    if (from === undefined) return undefined;
    // The last record that has one: APIs that take a watermark return records in its order.
    for (let i = records.length - 1; i >= 0; i--) {
      const value = atPath(records[i], from);
      if (value !== undefined && value !== null) return typeof value === 'string' ? value : JSON.stringify(value);
    }
    return undefined;
  }

  private authHeaders(): Record<string, string> {
    const auth = this.config.auth;
    if (auth === undefined) return {};
    if ('bearer' in auth) return { authorization: `Bearer ${auth.bearer.token}` };
    if ('basic' in auth) {
      return { authorization: `Basic ${Buffer.from(`${auth.basic.username}:${auth.basic.password}`).toString('base64')}` };
    }
    return { [auth.apiKey.header.toLowerCase()]: auth.apiKey.value };
  }

  private readCheckpoint(): PollCheckpoint {
    const raw = this.ctx?.checkpoint(CHECKPOINT_KEY);
    return raw === undefined ? {} : (JSON.parse(raw) as PollCheckpoint);
  }

  private checkpointOf(value: PollCheckpoint): { sourceId: string; key: string; value: string } {
    return { sourceId: this.id, key: CHECKPOINT_KEY, value: JSON.stringify(value) };
  }

  private setBreaker(state: BreakerState): void {
    this.breakerState = state;
    this.ctx?.log.info({ source: this.id, endpoint: this.endpoint, breaker: state }, 'circuit breaker state changed');
    this.options.onBreakerState?.(state, this.endpoint);
  }

  private fail(error: unknown): void {
    this.lastError = { at: new Date().toISOString(), message: error instanceof Error ? error.message : String(error) };
    this.ctx?.reportError(error, { source: this.id, endpoint: this.endpoint });
  }

  private requireCtx(): SourceContext {
    if (!this.ctx) throw new Error(`http-poll source ${this.id} used before start()`);
    return this.ctx;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
