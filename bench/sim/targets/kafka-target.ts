/**
 * Straight to Kafka, as the agent's shipper would: Sluice envelopes on `<prefix><dataset>`, keyed by record
 * id, acks=all through the project's producer. The record id is a push id of the run (agent id, source
 * `sim-<scenario>`, the run id as request id, the event's sequence as index): the same run sent twice lands
 * once. Nothing checks the schema on the way in: the consumer validates, and dead-letters what does not fit.
 */
import { envelopeHeaders, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { KafkaProducer, type OutgoingMessage } from '@sluice/shared/node/kafka';
import { recordId } from '@sluice/shared/record-id';
import type { SimEvent } from '../event-stream.ts';
import type { SendResult, SimTarget } from './target.ts';

export interface KafkaTargetOptions {
  brokers: string[];
  dataset: string;
  topicPrefix: string;
  agentId: string;
  sourceId: string;
  runId: string;
}

export class KafkaTarget implements SimTarget {
  readonly name = 'kafka' as const;
  readonly #o: KafkaTargetOptions;
  readonly #producer: KafkaProducer;
  readonly #topic: string;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(options: KafkaTargetOptions) {
    this.#o = options;
    this.#producer = new KafkaProducer({
      brokers: options.brokers,
      clientId: 'sluice-sim',
      retryUntilAcknowledged: true,
    });
    this.#topic = topicForDataset(options.dataset, options.topicPrefix);
    this.#headers = envelopeHeaders(options.dataset, options.agentId);
  }

  async send(events: readonly SimEvent[]): Promise<SendResult> {
    const ingestTime = new Date().toISOString();
    const messages = events.map((e): OutgoingMessage => {
      const id = recordId.push(this.#o.agentId, this.#o.sourceId, this.#o.runId, e.seq);
      const envelope: Envelope = {
        id,
        dataset: this.#o.dataset,
        agentId: this.#o.agentId,
        source: { id: this.#o.sourceId, kind: 'api', requestId: this.#o.runId, index: e.seq },
        eventTime: new Date(e.eventTimeMs).toISOString(),
        ingestTime,
        payload: e.payload,
      };
      return {
        topic: this.#topic,
        key: id,
        value: Buffer.from(JSON.stringify(envelope)),
        headers: this.#headers,
        spread: true,
      };
    });
    await this.#producer.send(messages);
    return { accepted: events.length, rejected: 0, reasons: [] };
  }

  async close(): Promise<void> {
    await this.#producer.close();
  }
}
