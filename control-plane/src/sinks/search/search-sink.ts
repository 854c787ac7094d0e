/**
 * Search sink for Elasticsearch 8/9 and OpenSearch 2, over plain HTTP (Node's fetch) and the REST bulk API.
 *
 * Why not a vendor client: the official Elasticsearch client refuses to talk to OpenSearch (product check) and
 * its 9.x line sends a `compatible-with=9` media type that Elasticsearch 8 rejects; the OpenSearch client
 * makes no promise about Elasticsearch. The handful of endpoints used here (`GET /`, `PUT _index_template`,
 * `PUT <index>/_mapping`, `POST _bulk`) have the same shape on all three.
 *
 * Documents go to a daily index `<prefix>-YYYY.MM.DD` (UTC day of the record's event time) with `_id` = record
 * id, so a replay overwrites instead of duplicating. Items the engine pushes back (429) are retried on
 * their own with backoff; items it refuses (mapping errors) come back as `rejected` for the DLQ.
 */
import type { DatasetVersion } from '@sluice/shared/dataset';
import { failed, ok, retryable, type Outcome } from '@sluice/shared/outcome';
import { createLogger, type Logger } from '@sluice/shared/node/logger';
import { parseRetryAfter, RetryableError, withRetry, type RetryPolicy } from '@sluice/shared/node/retry';
import type { Sink, SinkBatch, SinkWriteResult } from '../sink.ts';
import { bulkBodies, bulkItem, classifyBulkResponse, type BulkItem, type BulkResponse } from './bulk.ts';
import { dailyIndex, indexPrefix, indexTemplate, payloadMapping, type TemplateOptions } from './index-template.ts';

export interface SearchSinkConfig {
  /** Base URL, e.g. http://127.0.0.1:9200. */
  url: string;
  username?: string;
  password?: string;
  /** Elasticsearch API key (sent as `Authorization: ApiKey …`). */
  apiKey?: string;
  /** Largest bulk request body. Default 8 MiB. */
  maxBulkBytes?: number;
  /** Per HTTP request. Default 60 s. */
  requestTimeoutMs?: number;
  /** How long one write keeps retrying pushed-back items before reporting retryable. */
  itemRetry?: RetryPolicy;
  template?: TemplateOptions;
  logger?: Logger;
}

/** The engine answered with a status that says "not now" (or did not answer at all). */
class SearchUnavailable extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SearchUnavailable';
    this.retryAfterMs = retryAfterMs;
  }
}

/** The engine refused the request itself (bad credentials, malformed template...): retrying will not help. */
class SearchRequestFailed extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'SearchRequestFailed';
    this.status = status;
  }
}

export class SearchSink implements Sink {
  readonly name = 'search';
  readonly #config: SearchSinkConfig;
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #logger: Logger;
  readonly #prepared = new Set<string>();
  #engineLogged = false;
  #closed = false;

  constructor(config: SearchSinkConfig) {
    this.#config = config;
    this.#base = config.url.replace(/\/+$/, '');
    this.#logger = config.logger ?? createLogger('search-sink');
    this.#headers = { accept: 'application/json' };
    if (config.apiKey) this.#headers.authorization = `ApiKey ${config.apiKey}`;
    else if (config.username !== undefined) {
      this.#headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    }
  }

  async prepare(dataset: DatasetVersion): Promise<Outcome> {
    try {
      await this.#prepare(dataset);
      return ok;
    } catch (error) {
      return this.#outcomeOf(error, `preparing index template for ${dataset.spec.name}`);
    }
  }

  async write(batch: SinkBatch): Promise<SinkWriteResult> {
    if (this.#closed) return failed('search sink is closed');
    try {
      if (!this.#prepared.has(preparedKey(batch.dataset))) await this.#prepare(batch.dataset);
    } catch (error) {
      return this.#outcomeOf(error, `preparing index template for ${batch.dataset.spec.name}`);
    }
    const prefix = indexPrefix(batch.dataset);
    const rejected: Array<{ id: string; reason: string }> = [];
    let pending: BulkItem[] = [];
    for (const { envelope } of batch.records) {
      const index = dailyIndex(prefix, envelope.eventTime) ?? dailyIndex(prefix, envelope.ingestTime);
      if (index === undefined) rejected.push({ id: envelope.id, reason: `search: neither eventTime nor ingestTime is a date (${JSON.stringify(envelope.eventTime)})` });
      else pending.push(bulkItem(envelope, index));
    }

    try {
      await withRetry(
        async () => {
          const retry: BulkItem[] = [];
          let retryReason = '';
          for (const body of bulkBodies(pending, this.#config.maxBulkBytes ?? 8 * 1024 * 1024)) {
            const response = (await this.#request('POST', '/_bulk', body.map((i) => i.lines).join(''), 'application/x-ndjson')) as BulkResponse;
            const verdicts = classifyBulkResponse(body, response);
            rejected.push(...verdicts.rejected);
            retry.push(...verdicts.retry);
            retryReason ||= verdicts.retryReason ?? '';
          }
          pending = retry;
          if (retry.length > 0) throw new RetryableError(`${retry.length} bulk items pushed back: ${retryReason}`);
        },
        { retries: 4, minDelayMs: 250, maxDelayMs: 5_000, deadlineMs: 20_000, ...this.#config.itemRetry },
      );
    } catch (error) {
      if (error instanceof RetryableError) {
        this.#logger.warn({ dataset: batch.dataset.spec.name, items: pending.length }, 'search engine kept pushing back bulk items');
        return retryable(`search: ${error.message}`, 2_000);
      }
      return this.#outcomeOf(error, `bulk indexing ${batch.records.length} documents`);
    }
    if (rejected.length > 0) this.#logger.warn({ dataset: batch.dataset.spec.name, rejected: rejected.length, first: rejected[0]?.reason }, 'search engine refused documents');
    return { ...ok, rejected };
  }

  async flush(): Promise<void> {
    // Each bulk request is acknowledged before write resolves; visibility to searches follows the refresh interval.
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** Makes written documents searchable now (tests; production relies on the refresh interval). */
  async refresh(dataset: DatasetVersion): Promise<void> {
    await this.#request('POST', `/${indexPrefix(dataset)}-*/_refresh`);
  }

  /**
   * Deletes the dataset's daily indices and template. For tests and benchmarks: names every index, since
   * Elasticsearch refuses wildcard deletes by default.
   */
  async deleteDatasetIndices(dataset: DatasetVersion): Promise<void> {
    const prefix = indexPrefix(dataset);
    const indices = (await this.#request('GET', `/_cat/indices/${prefix}-*?format=json&h=index`)) as Array<{ index: string }>;
    for (const { index } of indices) await this.#request('DELETE', `/${encodeURIComponent(index)}`);
    await this.#request('DELETE', `/_index_template/${encodeURIComponent(prefix)}`).catch(() => undefined);
  }

  async #prepare(dataset: DatasetVersion): Promise<void> {
    await this.#logEngineOnce();
    const prefix = indexPrefix(dataset);
    await this.#request('PUT', `/_index_template/${encodeURIComponent(prefix)}`, JSON.stringify(indexTemplate(dataset, this.#config.template)));
    // The template shapes indices created from now on; today's index may already exist, so new payload
    // fields are added to existing indices too. A retyped field cannot be changed in place: the old indices
    // keep the old type and documents that do not fit are rejected item by item.
    try {
      await this.#request('PUT', `/${prefix}-*/_mapping`, JSON.stringify({ properties: { payload: payloadMapping(dataset.schema) } }));
    } catch (error) {
      if (error instanceof SearchUnavailable) throw error;
      // 404: no index of this dataset exists yet, the template alone covers it.
      if (error instanceof SearchRequestFailed && error.status !== 404) this.#logger.warn({ prefix, err: (error as Error).message }, 'could not add new fields to existing indices');
    }
    this.#prepared.add(preparedKey(dataset));
  }

  async #logEngineOnce(): Promise<void> {
    if (this.#engineLogged) return;
    const info = (await this.#request('GET', '/')) as { version?: { number?: string; distribution?: string } };
    this.#engineLogged = true;
    this.#logger.info({ engine: info.version?.distribution ?? 'elasticsearch', version: info.version?.number }, 'search engine');
  }

  async #request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: body === undefined ? this.#headers : { ...this.#headers, 'content-type': contentType },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.#config.requestTimeoutMs ?? 60_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new SearchUnavailable(`${method} ${path}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, undefined, { cause: error });
    }
    const text = await response.text();
    if (response.ok) return text === '' ? {} : (JSON.parse(text) as unknown);
    const detail = `${method} ${path}: HTTP ${response.status} ${text.slice(0, 500)}`;
    if (response.status === 429 || response.status >= 500) {
      throw new SearchUnavailable(detail, parseRetryAfter(response.headers.get('retry-after')));
    }
    throw new SearchRequestFailed(detail, response.status);
  }

  #outcomeOf(error: unknown, doing: string): Outcome {
    if (error instanceof SearchUnavailable) return retryable(`search: ${doing}: ${error.message}`, error.retryAfterMs ?? 1_000);
    const reason = `search: ${doing}: ${error instanceof Error ? error.message : String(error)}`;
    this.#logger.error({ reason }, 'search sink failed');
    return failed(reason);
  }
}

function preparedKey(dataset: DatasetVersion): string {
  return `${indexPrefix(dataset)}@${dataset.version}`;
}
