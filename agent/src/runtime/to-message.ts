import { CONTENT_TYPES, KAFKA_HEADERS, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import type { OutboxMessage } from '../sources/source.ts';

export interface MessageOptions {
  topicPrefix: string;
  /** A payload field whose value keys the message (ordering per key) instead of the record id. */
  partitionKey?: string | undefined;
}

/** Where a dataset's messages go and what they carry besides the envelope. */
export interface MessageRoute {
  topic: string;
  headers: Readonly<Record<string, string>>;
  partitionKey?: string | undefined;
}

/**
 * The outbox message for an envelope (docs/architecture.md): topic per dataset, key = record id unless a partition-key
 * field is configured and present in the payload, headers repeating what routing needs.
 */
export function toMessage(envelope: Envelope, options: MessageOptions, group?: string): OutboxMessage {
  const route = routeFor(envelope.dataset, envelope.agentId, options, envelope.schemaVersion);
  const payload = envelope.parseError === undefined ? envelope.payload : undefined;
  const partitionKey = partitionKeyOf(payload, route.partitionKey);
  return {
    topic: route.topic,
    key: partitionKey ?? envelope.id,
    value: JSON.stringify(envelope),
    headers: route.headers,
    ...(partitionKey === undefined ? {} : { keyed: true }),
    ...(group === undefined ? {} : { group }),
  };
}

/** The partition key field's value in a payload, when it is there and a scalar. */
export function partitionKeyOf(payload: unknown, field: string | undefined): string | undefined {
  if (field === undefined || payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const value = (payload as Record<string, unknown>)[field];
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

// One frozen headers object per (dataset, agent, schema version): the outbox caches its JSON by identity.
const headerCache = new Map<string, Readonly<Record<string, string>>>();

export function routeFor(dataset: string, agentId: string, options: MessageOptions, schemaVersion?: number): MessageRoute {
  const cacheKey = `${dataset}\u0000${agentId}\u0000${schemaVersion ?? ''}`;
  let headers = headerCache.get(cacheKey);
  if (!headers) {
    const fresh: Record<string, string> = {
      [KAFKA_HEADERS.dataset]: dataset,
      [KAFKA_HEADERS.agentId]: agentId,
      [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope,
    };
    if (schemaVersion !== undefined) fresh[KAFKA_HEADERS.schemaVersion] = String(schemaVersion);
    headers = Object.freeze(fresh);
    if (headerCache.size > 10_000) headerCache.clear();
    headerCache.set(cacheKey, headers);
  }
  return { topic: topicForDataset(dataset, options.topicPrefix), headers, partitionKey: options.partitionKey };
}
