import { envelopeHeaders, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { partitionKeyOf } from '@sluice/shared/partition-key';
import { minuteOf } from '../outbox/shipped-ledger.ts';
import type { MessageRoute, OutboxMessage } from '../sources/source.ts';

export interface MessageOptions {
  topicPrefix: string;
  /** A payload field whose value keys the message (ordering per key) instead of the record id. */
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
    minute: minuteOf(envelope.ingestTime),
    ...(partitionKey === undefined ? {} : { keyed: true }),
    ...(group === undefined ? {} : { group }),
  };
}

export function routeFor(dataset: string, agentId: string, options: MessageOptions, schemaVersion?: number): MessageRoute {
  return { topic: topicForDataset(dataset, options.topicPrefix), headers: envelopeHeaders(dataset, agentId, schemaVersion), partitionKey: options.partitionKey };
}
