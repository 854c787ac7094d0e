/**
 * What an MQTT message becomes: its record id and its envelope.
 *
 * The id (the last part of `recordId.mqtt`) names what the message is, never the packet id: packet ids are
 * per session and reused as soon as a message is acknowledged, so the same packet id names many messages
 * and a redelivered message may even come back under another one. So:
 *
 *   a message id the publisher set   → sha256("id", broker, topic, that id): the `idProperty` user property
 *                                       (MQTT 5) or the value at `idField` in a JSON payload
 *   otherwise                        → sha256("content", broker, topic, payload bytes)
 *
 * A redelivery (after a reconnect, a broker restart or a killed agent) therefore has the id of the first
 * delivery and the stores keep it once. The flip side, said in docs/sources/mqtt.md: two messages with the
 * same bytes on the same topic and no message id are one record; publishers that repeat a value put a
 * timestamp or sequence number in it, or a message id. The broker is host:port (no credentials, no
 * scheme: moving to TLS on the same broker does not make every message new).
 */
import { createHash } from 'node:crypto';
import type { Envelope } from '@sluice/shared/envelope';
import { canonicalJson } from '@sluice/shared/canonical-json';
import { judgeItem, truncateRaw } from '@sluice/shared/json-batch';
import { atPointer, parsePointer } from '@sluice/shared/json-pointer';
import { inspect } from '@sluice/shared/record-guard';
import { recordId } from '@sluice/shared/record-id';
import { base64, utf8OrUndefined } from '@sluice/shared/text-codec';
import { topicFields, type TopicPattern } from './topic-pattern.ts';

export interface MqttRecordOptions {
  agentId: string;
  sourceId: string;
  dataset: string;
  /** host:port of the broker. */
  broker: string;
  format: 'json' | 'text' | 'binary';
  patterns: readonly TopicPattern[];
  topicField?: string | undefined;
  idField?: string | undefined;
  idProperty?: string | undefined;
  maxRecordBytes: number;
}

/** One received message, as far as its record is concerned. */
export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  /** MQTT 5 user properties (a name may repeat: then an array). */
  userProperties?: Record<string, string | string[]> | undefined;
  retain?: boolean;
}

type Identity = { kind: 'content'; payload: Uint8Array } | { kind: 'id'; id: string };

/** The message key: see the table at the top of the file. */
export function messageKey(broker: string, topic: string, identity: Identity): string {
  const hash = createHash('sha256').update(JSON.stringify([identity.kind, broker, topic])).update('\n');
  hash.update(identity.kind === 'id' ? identity.id : identity.payload);
  return hash.digest('hex').slice(0, 32);
}

type Parsed = { payload: unknown } | { parseError: { reason: string; raw: string; rawEncoding: 'utf8' | 'base64' } };

export class MqttRecords {
  readonly #options: MqttRecordOptions;
  readonly #idTokens: string[] | undefined;

  constructor(options: MqttRecordOptions) {
    this.#options = options;
    this.#idTokens = options.idField === undefined ? undefined : parsePointer(options.idField);
  }

  /** The envelope of a message received at `now` (ISO). */
  envelope(message: MqttMessage, now: string): Envelope {
    const { agentId, sourceId, dataset, broker } = this.#options;
    let parsed = this.#parse(message.payload);
    let identity: Identity = { kind: 'content', payload: message.payload };
    const fromProperty = this.#propertyId(message.userProperties);
    if (fromProperty !== undefined) {
      identity = { kind: 'id', id: fromProperty };
    } else if (this.#idTokens !== undefined && 'payload' in parsed) {
      const value = atPointer(parsed.payload, this.#idTokens);
      if (value === undefined || value === null || value === '') {
        // Content-keyed, so the same bad message delivered again is still one DLQ entry.
        parsed = { parseError: { reason: `idField ${this.#options.idField ?? ''} is missing, null or empty in the message`, ...this.#raw(message.payload) } };
      } else {
        identity = { kind: 'id', id: canonicalJson(value) };
      }
    }
    const key = messageKey(broker, message.topic, identity);
    const base = {
      id: recordId.mqtt(agentId, sourceId, key),
      dataset,
      agentId,
      source: { id: sourceId, kind: 'mqtt' as const, broker, topic: message.topic, key, ...(message.retain === true ? { retain: true } : {}) },
      eventTime: now,
      ingestTime: now,
    };
    if ('parseError' in parsed) return { ...base, payload: null, parseError: parsed.parseError };
    return { ...base, payload: this.#withTopicFields(parsed.payload, message.topic) };
  }

  /** The same message kept as a parse error (a record over maxRecordBytes): same id, raw text cut to fit. */
  oversized(envelope: Envelope, payload: Uint8Array, bytes: number): Envelope {
    const reason = `record is ${bytes} bytes, over maxRecordBytes (${this.#options.maxRecordBytes}); raw payload truncated`;
    return { ...envelope, payload: null, parseError: { reason, ...this.#raw(payload) } };
  }

  #parse(bytes: Uint8Array): Parsed {
    const { format } = this.#options;
    if (format === 'binary') return { payload: { data: base64(bytes) } };
    if (format === 'json') {
      const item = judgeItem(bytes, 'payload');
      if ('value' in item) return { payload: item.value };
      return { parseError: { reason: item.error, raw: truncateRaw(item.raw, this.#options.maxRecordBytes), rawEncoding: item.rawEncoding } };
    }
    const text = utf8OrUndefined(bytes);
    if (text === undefined) return { parseError: { reason: 'payload is not valid UTF-8 (use format binary for binary payloads)', ...this.#raw(bytes) } };
    const payload = { message: text };
    const refused = inspect(payload);
    return refused === undefined ? { payload } : { parseError: { reason: refused, ...this.#raw(bytes) } };
  }

  #raw(bytes: Uint8Array): { raw: string; rawEncoding: 'utf8' | 'base64' } {
    const text = utf8OrUndefined(bytes);
    const max = this.#options.maxRecordBytes;
    return text === undefined ? { raw: truncateRaw(base64(bytes), max), rawEncoding: 'base64' } : { raw: truncateRaw(text, max), rawEncoding: 'utf8' };
  }

  #propertyId(properties: MqttMessage['userProperties']): string | undefined {
    const name = this.#options.idProperty;
    if (name === undefined || properties === undefined) return undefined;
    const value = properties[name];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined || first === '' ? undefined : first;
  }

  /** Topic fields join an object payload; a field the payload has already keeps the payload's value. */
  #withTopicFields(payload: unknown, topic: string): unknown {
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return payload;
    const { topicField, patterns } = this.#options;
    const fields: Record<string, string> = { ...topicFields(patterns, topic) };
    if (topicField !== undefined) fields[topicField] = topic;
    const record = payload as Record<string, unknown>;
    const added = Object.entries(fields).filter(([name]) => !Object.hasOwn(record, name));
    return added.length === 0 ? payload : { ...record, ...Object.fromEntries(added) };
  }
}
