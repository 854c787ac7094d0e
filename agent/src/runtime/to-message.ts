import { envelopeHeaders, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { toCompact, type WireFormat } from '@sluice/shared/envelope-wire';
import { partitionKeyOf } from '@sluice/shared/partition-key';
import { minuteOf } from '../outbox/shipped-ledger.ts';
import type { MessageRoute, OutboxMessage } from '../sources/source.ts';

export interface MessageOptions {
  topicPrefix: string;
  /** A payload field whose value keys the message (ordering per key) instead of the record id. */
  partitionKey?: string | undefined;
  /** The envelope form on the wire (docs/envelope.md); v2 unless told otherwise. */
  wire?: WireFormat | undefined;
}

/**
 * The outbox message for an envelope (docs/envelope.md): topic per dataset, key = record id unless a partition-key
 * field is configured and present in the payload. In v2 the value holds the per-record fields and one header
 * what the source's records share; in v1 the value is the whole envelope and the headers repeat what routing needs.
 */
export function toMessage(envelope: Envelope, options: MessageOptions, group?: string): OutboxMessage {
  const route = routeFor(envelope.dataset, envelope.agentId, options, envelope.schemaVersion);
  const payload = envelope.parseError === undefined ? envelope.payload : undefined;
  const partitionKey = partitionKeyOf(payload, route.partitionKey);
  const wire = route.wire === 'v2' ? toCompact(envelope, partitionKey === undefined) : { value: JSON.stringify(envelope), headers: route.headers };
  return {
    topic: route.topic,
    key: partitionKey ?? envelope.id,
    value: wire.value,
    headers: wire.headers,
    minute: minuteOf(envelope.ingestTime),
    ...(partitionKey === undefined ? {} : { keyed: true }),
    ...(group === undefined ? {} : { group }),
  };
}

export function routeFor(dataset: string, agentId: string, options: MessageOptions, schemaVersion?: number): MessageRoute {
  return {
    topic: topicForDataset(dataset, options.topicPrefix),
    headers: envelopeHeaders(dataset, agentId, schemaVersion),
    partitionKey: options.partitionKey,
    wire: options.wire ?? 'v2',
  };
}
