/**
 * Raw input topics (docs/datasets.md, "Raw input topics"): a dataset may name a Kafka topic that third-party
 * producers write plain JSON or text to. The consumer subscribes to it beside the dataset topics and wraps
 * each message into an envelope here; from then on it is a record like any other (event time from the
 * dataset's field, schema validation, the stores, the DLQ).
 *
 * Ids are derived, never random: from topic, partition and offset — the very id a `kafka` replay job of the
 * same topic gives the message (lake/jobs/kafka), so replaying a raw topic lands nothing twice — or, with
 * `idField`, from the record's own key, for producers that send a record again. The envelope's times are the
 * message's timestamp, so reading the same message again builds the same envelope.
 */
import { fingerprint as digest } from '@sluice/shared/node/fingerprint';
import { canonicalJson } from '@sluice/shared/canonical-json';
import type { DatasetSpec } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { judgeItem } from '@sluice/shared/json-batch';
import { atPointer, parsePointer } from '@sluice/shared/json-pointer';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import { recordId } from '@sluice/shared/record-id';
import { base64, utf8OrUndefined } from '@sluice/shared/text-codec';

/** Who wrapped the record (the envelope's agentId): the control plane, as for every record it makes itself. */
export const CONTROL_PLANE_AGENT_ID = 'control-plane';

/** The id of a plain (non-envelope) Kafka message: topic, partition, offset. */
export function kafkaMessageId(topic: string, partition: number, offset: number | bigint): string {
  return recordId.file(CONTROL_PLANE_AGENT_ID, 'lake-kafka', digest('kafka', topic, String(partition)), Number(offset));
}

/**
 * The dataset each raw input topic feeds, from the datasets' specs. A topic two datasets name feeds neither
 * (the dataset store refuses that, this is the last guard), nor does one under the consumer's topic prefix or
 * the DLQ: those carry envelopes.
 */
export class InputTopics {
  readonly #ownTopic: (topic: string) => boolean;
  #byTopic = new Map<string, string>();

  constructor(topicPrefix: string, dlqTopic: string) {
    this.#ownTopic = (topic) => topic.startsWith(topicPrefix) || topic === dlqTopic;
  }

  update(specs: ReadonlyArray<Pick<DatasetSpec, 'name' | 'input'>>): void {
    const next = new Map<string, string>();
    const taken = new Set<string>();
    for (const spec of specs) {
      const topic = spec.input?.topic;
      if (topic === undefined || this.#ownTopic(topic)) continue;
      if (next.has(topic)) taken.add(topic);
      next.set(topic, spec.name);
    }
    for (const topic of taken) next.delete(topic);
    this.#byTopic = next;
  }

  datasetOf(topic: string): string | undefined {
    return this.#byTopic.get(topic);
  }

  topics(): string[] {
    return [...this.#byTopic.keys()].sort();
  }
}

/**
 * The envelope of a raw message. What cannot be a record (not JSON, not UTF-8 text, no `idField` value) comes
 * back as a parseError envelope, which the intake dead-letters with its reason.
 */
export function wrapRawMessage(message: IncomingMessage, spec: Pick<DatasetSpec, 'name' | 'input'>): Envelope {
  const input = spec.input!;
  const offset = Number(message.offset);
  const at = new Date(Number(message.timestamp)).toISOString();
  const base = {
    dataset: spec.name,
    agentId: CONTROL_PLANE_AGENT_ID,
    source: { id: message.topic, kind: 'kafka' as const, partition: message.partition, offset },
    eventTime: at,
    ingestTime: at,
  };
  const offsetId = kafkaMessageId(message.topic, message.partition, offset);
  const broken = (reason: string, raw: string, rawEncoding: 'utf8' | 'base64'): Envelope => ({ ...base, id: offsetId, payload: null, parseError: { reason, raw, rawEncoding } });
  let payload: unknown;
  if ((input.format ?? 'json') === 'text') {
    const text = utf8OrUndefined(message.value);
    if (text === undefined) return broken(`offset ${offset} is not valid UTF-8 text`, base64(message.value), 'base64');
    payload = { message: text };
  } else {
    const item = judgeItem(message.value, `offset ${offset}`);
    if ('error' in item) return broken(item.error, item.raw, item.rawEncoding);
    payload = item.value;
  }
  if (input.idField === undefined) return { ...base, id: offsetId, payload };
  const key = atPointer(payload, parsePointer(input.idField));
  if (key === undefined || key === null || key === '') {
    return broken(`idField ${input.idField} is missing, null or empty`, message.value.toString('utf8'), 'utf8');
  }
  return { ...base, id: recordId.poll(CONTROL_PLANE_AGENT_ID, `raw-${digest('raw', message.topic).slice(0, 16)}`, digest('id', canonicalJson(key))), payload };
}
