import type { Envelope } from '@sluice/shared/envelope';
import { CONTENT_TYPES, KAFKA_HEADERS } from '@sluice/shared/envelope';
import type { IncomingMessage } from '@sluice/shared/node/kafka';

export function envelope(dataset: string, id: string, payload: unknown, extra: Partial<Envelope> = {}): Envelope {
  const now = new Date().toISOString();
  return { id, dataset, agentId: 'test-agent', source: { id: 'test', kind: 'api' }, eventTime: now, ingestTime: now, payload, ...extra };
}

let nextOffset = 0n;

export function message(value: Envelope | Buffer | string, at: { topic?: string; partition?: number; offset?: bigint } = {}): IncomingMessage {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  const dataset = typeof value === 'object' && !Buffer.isBuffer(value) ? value.dataset : undefined;
  return {
    topic: at.topic ?? `sluice.${dataset ?? 'unknown'}`,
    partition: at.partition ?? 0,
    offset: at.offset ?? nextOffset++,
    key: undefined,
    value: bytes,
    headers: { [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope, ...(dataset ? { [KAFKA_HEADERS.dataset]: dataset } : {}) },
    timestamp: BigInt(Date.now()),
  };
}
