/**
 * Batch ingest: a JSON array or NDJSON of payloads for one dataset. Answers like an Elasticsearch bulk
 * request: each item gets its own result, the valid ones are produced to Kafka (never written to a store
 * here), the invalid ones are reported with their index and reason and are not produced.
 *
 * Record ids come from the Idempotency-Key header (or a generated request id) + the item's index, so a
 * client retrying the same request with the same key lands each record once in every store.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { CONTENT_TYPES, KAFKA_HEADERS, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { InputError, NotFoundError, UnavailableError } from '@sluice/shared/errors';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import { recordId } from '@sluice/shared/record-id';
import type { ServerDeps } from '../server.ts';

export const INGEST_AGENT_ID = 'control-plane';
export const INGEST_SOURCE_ID = 'ingest-api';
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.-]{1,200}$/;

export type IngestItemResult =
  | { index: number; status: 'accepted'; id: string }
  | { index: number; status: 'rejected'; reason: string };

/** NDJSON: one JSON value per non-empty line; a bad line is that item's error, not the request's. */
export function parseNdjson(text: string): Array<{ value: unknown } | { error: string }> {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines.map((line, i) => {
    try {
      return { value: JSON.parse(line) as unknown };
    } catch (error) {
      return { error: `line ${i + 1} is not JSON: ${(error as Error).message}` };
    }
  });
}

function partitionKeyOf(payload: unknown, field: string | undefined): string | undefined {
  if (field === undefined || typeof payload !== 'object' || payload === null) return undefined;
  const value = (payload as Record<string, unknown>)[field];
  if (typeof value === 'string') return value;
  return value === undefined || value === null ? undefined : JSON.stringify(value);
}

export function ingestRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    app.addContentTypeParser(['application/x-ndjson', 'application/ndjson'], { parseAs: 'string', bodyLimit: deps.bodyLimitBytes }, (_request, body, done) => {
      done(null, { ndjson: parseNdjson(body as string) });
    });

    app.post<{ Params: { dataset: string }; Body: unknown }>(
      '/ingest/:dataset',
      {
        config: { role: 'operator' },
        bodyLimit: deps.bodyLimitBytes,
        schema: {
          tags: ['ingest'],
          params: { type: 'object', required: ['dataset'], properties: { dataset: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' } } },
          headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', pattern: IDEMPOTENCY_KEY.source } } },
        },
      },
      async (request) => {
        const datasetName = request.params.dataset;
        const dataset = await deps.datasets.latest(datasetName);
        if (!dataset) throw NotFoundError(`dataset ${datasetName} does not exist`);

        const body = request.body;
        let items: Array<{ value: unknown } | { error: string }>;
        if (Array.isArray(body)) items = body.map((value: unknown) => ({ value }));
        else if (typeof body === 'object' && body !== null && 'ndjson' in body) items = (body as { ndjson: typeof items }).ndjson;
        else throw InputError('body must be a JSON array of records or NDJSON (Content-Type: application/x-ndjson)');
        if (items.length === 0) throw InputError('no records in the request');

        const header = request.headers['idempotency-key'];
        const requestId = typeof header === 'string' ? header : randomUUID();
        const now = new Date().toISOString();
        const results: IngestItemResult[] = [];
        const messages: OutgoingMessage[] = [];
        items.forEach((item, index) => {
          if ('error' in item) {
            results.push({ index, status: 'rejected', reason: item.error });
            return;
          }
          const check = deps.validators.check(dataset.spec.name, dataset.version, dataset.schema, item.value);
          if (!check.valid) {
            results.push({ index, status: 'rejected', reason: `does not match schema version ${dataset.version}: ${check.reason}` });
            return;
          }
          const id = recordId.push(INGEST_AGENT_ID, INGEST_SOURCE_ID, requestId, index);
          const envelope: Envelope = {
            id,
            dataset: dataset.spec.name,
            agentId: INGEST_AGENT_ID,
            source: { id: INGEST_SOURCE_ID, kind: 'api', requestId, index },
            eventTime: now,
            ingestTime: now,
            schemaVersion: dataset.version,
            payload: item.value,
          };
          const value = Buffer.from(JSON.stringify(envelope));
          if (value.length > deps.maxRecordBytes) {
            results.push({ index, status: 'rejected', reason: `record is ${value.length} bytes, larger than the limit of ${deps.maxRecordBytes} bytes` });
            return;
          }
          messages.push({
            topic: topicForDataset(dataset.spec.name, deps.topicPrefix),
            key: partitionKeyOf(item.value, dataset.spec.partitionKey) ?? id,
            value,
            headers: {
              [KAFKA_HEADERS.dataset]: dataset.spec.name,
              [KAFKA_HEADERS.schemaVersion]: String(dataset.version),
              [KAFKA_HEADERS.agentId]: INGEST_AGENT_ID,
              [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope,
            },
          });
          results.push({ index, status: 'accepted', id });
        });

        try {
          await deps.produce(messages);
        } catch (error) {
          throw UnavailableError('Kafka is unreachable; nothing was accepted, retry with the same Idempotency-Key', { retryAfterSeconds: 5 }, { cause: error });
        }
        const rejected = results.filter((r) => r.status === 'rejected').length;
        if (rejected > 0) deps.metrics.failedValidations.inc({ dataset: dataset.spec.name }, rejected);
        return { requestId, errors: rejected > 0, accepted: results.length - rejected, rejected, items: results };
      },
    );
    await Promise.resolve();
  };
}
