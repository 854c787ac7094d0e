import { CONTENT_TYPES, KAFKA_HEADERS, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import type { OutboxMessage } from '../sources/source.ts';

export interface MessageOptions {
  topicPrefix: string;
  /** A payload field whose value keys the message (ordering per key) instead of the record id. */
  partitionKey?: string | undefined;
}

/**
 * The outbox message for an envelope (DESIGN.md): topic per dataset, key = record id unless a partition-key
 * field is configured and present in the payload, headers repeating what routing needs.
 */
export function toMessage(envelope: Envelope, options: MessageOptions, group?: string): OutboxMessage {
  return {
    topic: topicForDataset(envelope.dataset, options.topicPrefix),
    key: partitionKeyOf(envelope, options.partitionKey) ?? envelope.id,
    value: Buffer.from(JSON.stringify(envelope)),
    headers: headersFor(envelope),
    ...(group === undefined ? {} : { group }),
  };
}

function partitionKeyOf(envelope: Envelope, field: string | undefined): string | undefined {
  if (field === undefined || envelope.parseError !== undefined) return undefined;
  const payload = envelope.payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const value = (payload as Record<string, unknown>)[field];
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

// One frozen headers object per (dataset, agent, schema version): the outbox caches its JSON by identity.
const headerCache = new Map<string, Readonly<Record<string, string>>>();

function headersFor(envelope: Envelope): Record<string, string> {
  const cacheKey = `${envelope.dataset}\u0000${envelope.agentId}\u0000${envelope.schemaVersion ?? ''}`;
  let headers = headerCache.get(cacheKey);
  if (!headers) {
    const fresh: Record<string, string> = {
      [KAFKA_HEADERS.dataset]: envelope.dataset,
      [KAFKA_HEADERS.agentId]: envelope.agentId,
      [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope,
    };
    if (envelope.schemaVersion !== undefined) fresh[KAFKA_HEADERS.schemaVersion] = String(envelope.schemaVersion);
    headers = Object.freeze(fresh);
    if (headerCache.size > 10_000) headerCache.clear();
    headerCache.set(cacheKey, headers);
  }
  return headers;
}
