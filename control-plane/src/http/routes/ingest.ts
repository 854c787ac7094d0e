/**
 * Batch ingest: a JSON array or NDJSON of payloads for one dataset. Answers like an Elasticsearch bulk
 * request: each item gets its own result, the valid ones are produced to Kafka (never written to a store
 * here), the invalid ones are reported with their index and reason and are not produced.
 *
 * Record ids come from the Idempotency-Key header (or a generated request id) + the item's index, so a
 * client retrying the same request with the same key lands each record once in every store.
 *
 * Bodies are read as bytes and cut into items here, not by fastify's JSON parser: that one decodes invalid
 * UTF-8 into replacement characters (the record would be stored altered) and fails the whole request on
 * one bad item. Each item meets the record guard, so what a store would refuse is refused at the door.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { envelopeHeaders, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { InputError, NotFoundError, UnavailableError } from '@sluice/shared/errors';
import { errorResponses } from '@sluice/shared/api/error-body';
import { ingestResponseSchema } from '@sluice/shared/api/ingest';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import { isArrayBody, jsonBatchItems, ndjsonBatchItems, type BatchItem } from '@sluice/shared/json-batch';
import { partitionKeyOf } from '@sluice/shared/partition-key';
import { recordId } from '@sluice/shared/record-id';
import type { ServerDeps } from '../server-deps.ts';

export const INGEST_AGENT_ID = 'control-plane';
export const INGEST_SOURCE_ID = 'ingest-api';
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.-]{1,200}$/;

export type IngestItemResult =
  | { index: number; status: 'accepted'; id: string }
  | { index: number; status: 'rejected'; reason: string };

export function ingestRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    // This plugin's own JSON parser (fastify scopes parsers per plugin): the other routes keep the default.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: deps.bodyLimitBytes }, (_request, body, done) => {
      const bytes = body as Buffer;
      if (!isArrayBody(bytes)) return done(InputError('body must be a JSON array of records or NDJSON (Content-Type: application/x-ndjson)'));
      const items = jsonBatchItems(bytes);
      if (typeof items === 'string') return done(InputError(items));
      done(null, { items });
    });
    app.addContentTypeParser(['application/x-ndjson', 'application/ndjson'], { parseAs: 'buffer', bodyLimit: deps.bodyLimitBytes }, (_request, body, done) => {
      done(null, { items: ndjsonBatchItems(body as Buffer) });
    });

    app.post<{ Params: { dataset: string }; Body: unknown }>(
      '/ingest/:dataset',
      {
        config: { auth: 'operator' },
        bodyLimit: deps.bodyLimitBytes,
        schema: {
          summary: 'Ingest records into a dataset (validated; idempotency key)',
          tags: ['ingest'],
          params: { type: 'object', required: ['dataset'], properties: { dataset: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' } } },
          headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', pattern: IDEMPOTENCY_KEY.source } } },
          response: { 200: ingestResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const datasetName = request.params.dataset;
        const dataset = await deps.datasets.latest(datasetName);
        if (!dataset) throw NotFoundError(`dataset ${datasetName} does not exist`);

        const body = request.body;
        if (typeof body !== 'object' || body === null || !('items' in body)) {
          throw InputError('body must be a JSON array of records or NDJSON (Content-Type: application/x-ndjson)');
        }
        const items = (body as { items: BatchItem[] }).items;
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
            headers: envelopeHeaders(dataset.spec.name, INGEST_AGENT_ID, dataset.version),
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
