/**
 * A batch's intake, before any store is touched: each fetched message decoded and checked against its
 * dataset, then sorted into where it goes.
 *
 *   message of a raw input topic ──► wrapped into an envelope (raw-topics.ts), then as any other
 *   blob chunk ───────────────────────────────────────────────► a blob step (blob-steps.ts)
 *   oversize │ not an envelope │ unknown dataset │ parseError │ schema mismatch ──► a DLQ entry (reason + bytes)
 *   what any store would refuse (record-guard.ts: NUL, depth, fields, numbers) ──► a DLQ entry
 *   valid ──► its group (dataset + topic-partition); one that closes a blob also ──► a blob step
 */
import { isUtf8 } from 'node:buffer';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { CONTENT_TYPES, KAFKA_HEADERS, type Envelope } from '@sluice/shared/envelope';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import { inspect } from '@sluice/shared/record-guard';
import { isCsvRow } from '../datasets/csv-coercion.ts';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { NOT_LOOKED_UP, type BatchLookups } from './batch-lookups.ts';
import type { BlobStep } from './blob-steps.ts';
import type { DlqEntry } from './dead-letters.ts';
import { decodeEnvelope } from './envelope-decode.ts';
import { EventTimeStep } from './event-time-step.ts';
import { wrapRawMessage, type InputTopics } from './raw-topics.ts';
import { RecordProcessor, type ReferenceData, type RuleOutcome } from '../datasets/record-processor.ts';
import { dlqEntry, type Group } from './sink-writer.ts';

/** Where the quality rules' outcomes go: counted (quality-counts.ts), or shown by a dry run. */
export interface QualitySink {
  add(envelope: Envelope, outcomes: readonly RuleOutcome[]): void;
}

/** Without PostgreSQL at hand (tests of the intake alone): no lookup rows, no labels. */
const NO_REFERENCE_DATA: ReferenceData = { prepare: () => Promise.resolve(), lookup: () => ({ found: false }), agentLabels: () => undefined };

/** What a batch's messages came to, in message order within each list. */
export interface Intake {
  dead: DlqEntry[];
  groups: Group[];
  blobSteps: BlobStep[];
}

type Accepted = { dataset: DatasetVersion; envelope: Envelope };

export class RecordIntake {
  readonly #maxRecordBytes: number;
  readonly #metrics: ControlPlaneMetrics;
  readonly #eventTime: EventTimeStep;
  readonly #inputs: InputTopics | undefined;

  readonly #refs: ReferenceData;
  readonly #quality: QualitySink | undefined;

  constructor(options: { maxRecordBytes: number; metrics: ControlPlaneMetrics; inputs?: InputTopics; refs?: ReferenceData; quality?: QualitySink }) {
    this.#maxRecordBytes = options.maxRecordBytes;
    this.#metrics = options.metrics;
    this.#inputs = options.inputs;
    this.#refs = options.refs ?? NO_REFERENCE_DATA;
    this.#quality = options.quality;
    this.#eventTime = new EventTimeStep(options.metrics);
  }

  async take(messages: readonly IncomingMessage[], lookups: BatchLookups): Promise<Intake> {
    const dead: DlqEntry[] = [];
    const groups = new Map<string, Group>();
    const blobSteps: BlobStep[] = [];
    // Messages come in runs of one partition: the group of the previous one is usually the right one.
    let last: Group | undefined;
    for (const message of messages) {
      if (message.headers[KAFKA_HEADERS.contentType] === CONTENT_TYPES.blobChunk) {
        blobSteps.push({ kind: 'chunk', topic: message.topic, partition: message.partition, message });
        continue;
      }
      // Only what needs I/O is awaited (a dataset first seen in this batch): an await per record would
      // cost a turn of the microtask queue each.
      const rawDataset = this.#inputs?.datasetOf(message.topic);
      const decoded = rawDataset === undefined ? this.#decode(message) : await this.#wrap(message, rawDataset, lookups);
      if ('reason' in decoded) {
        this.#invalid(dead, decoded);
        continue;
      }
      const { envelope } = decoded;
      const stamped = envelope.schemaVersion ?? 0;
      let dataset = lookups.peek(envelope.dataset, stamped);
      if (dataset === NOT_LOOKED_UP) dataset = await lookups.lookUp(envelope.dataset, stamped);
      const checked = this.#check(message, envelope, dataset, lookups);
      const verdict = checked instanceof Promise ? await checked : checked;
      if ('reason' in verdict) {
        this.#invalid(dead, verdict);
        continue;
      }
      if (verdict.envelope.blob) {
        // Its chunks sit before it in the same partition: their steps are queued before this one.
        blobSteps.push({ kind: 'complete', topic: message.topic, partition: message.partition, message, envelope: verdict.envelope, dataset: verdict.dataset });
      }
      let group = last;
      if (group?.dataset !== verdict.dataset || group.topic !== message.topic || group.partition !== message.partition) {
        const key = `${verdict.dataset.spec.name}\u0000${message.topic}\u0000${message.partition}`;
        group = groups.get(key);
        if (!group) {
          group = { dataset: verdict.dataset, topic: message.topic, partition: message.partition, records: [], messages: [] };
          groups.set(key, group);
        }
        last = group;
      }
      group.records.push({ envelope: verdict.envelope, topic: message.topic, partition: message.partition, offset: message.offset });
      group.messages.push(message);
    }
    return { dead, groups: [...groups.values()], blobSteps };
  }

  /** Size, UTF-8, then JSON and the envelope schema of either form (envelope-decode.ts): whether the bytes are a Sluice envelope at all. */
  #decode(message: IncomingMessage): DlqEntry | { envelope: Envelope } {
    const headerDataset = message.headers[KAFKA_HEADERS.dataset];
    const oversize = this.#oversize(message, headerDataset);
    if (oversize) return oversize;
    const text = utf8Text(message.value);
    if (text === undefined) {
      return dlqEntry(message, `not a Sluice envelope: the value is not UTF-8 text (${message.value.length} bytes, starting ${message.value.subarray(0, 8).toString('hex')})`, headerDataset);
    }
    return decodeEnvelope(message, text);
  }

  #oversize(message: IncomingMessage, dataset: string | undefined): DlqEntry | undefined {
    if (message.value.length <= this.#maxRecordBytes) return undefined;
    return dlqEntry(message, `record is ${message.value.length} bytes, larger than the limit of ${this.#maxRecordBytes} bytes`, dataset);
  }

  /** A raw input topic's message as an envelope of the dataset that reads the topic. */
  async #wrap(message: IncomingMessage, name: string, lookups: BatchLookups): Promise<DlqEntry | { envelope: Envelope }> {
    const oversize = this.#oversize(message, name);
    if (oversize) return oversize;
    let dataset = lookups.peek(name, 0);
    if (dataset === NOT_LOOKED_UP) dataset = await lookups.lookUp(name, 0);
    if (dataset?.spec.input?.topic !== message.topic) return dlqEntry(message, `topic ${message.topic} is no longer the input of dataset ${name}`, name);
    return { envelope: wrapRawMessage(message, dataset.spec) };
  }

  /**
   * The dataset's side: known, not a parse failure, the version's transforms applied, the payload matches the
   * dataset's schema, and no `fail` quality rule fails. Only a version with transforms or rules is awaited.
   */
  #check(message: IncomingMessage, envelope: Envelope, dataset: DatasetVersion | undefined, lookups: BatchLookups): DlqEntry | Accepted | Promise<DlqEntry | Accepted> {
    const reject = (reason: string, version?: number): DlqEntry => dlqEntry(message, reason, envelope.dataset, envelope.id, version, envelope);
    if (!dataset) return reject(`unknown dataset ${envelope.dataset}`);
    if (envelope.parseError) return reject(`could not be parsed at the source: ${envelope.parseError.reason}`, dataset.version);
    // Before the schema, and whatever it allows: what one store would refuse goes to none of them.
    const refused = inspect(envelope.payload) ?? inspect({ id: envelope.id, agentId: envelope.agentId, source: envelope.source }, 'envelope');
    if (refused !== undefined) return reject(`refused before any store: ${refused}`, dataset.version);
    const processor = RecordProcessor.of(dataset);
    if (processor) return this.#processed(processor, envelope, dataset, lookups, reject);
    return this.#validated(envelope, dataset, lookups, reject);
  }

  /** Decode → transforms → event time → validation → quality rules → sinks (docs/transforms.md). */
  async #processed(processor: RecordProcessor, envelope: Envelope, dataset: DatasetVersion, lookups: BatchLookups, reject: (reason: string, version?: number) => DlqEntry): Promise<DlqEntry | Accepted> {
    let input = envelope;
    if (processor.hasTransforms) {
      if (processor.tables.length > 0 || processor.labels) await this.#refs.prepare(processor.tables, processor.labels);
      const transformed = await processor.transform(envelope, this.#refs);
      if ('reason' in transformed) return reject(`transform failed: ${transformed.reason}`, dataset.version);
      const refused = inspect(transformed.payload);
      if (refused !== undefined) return reject(`refused before any store (after the transforms): ${refused}`, dataset.version);
      input = { ...envelope, payload: transformed.payload };
    }
    const verdict = this.#validated(input, dataset, lookups, reject);
    if ('reason' in verdict || !processor.hasRules) return verdict;
    const outcomes = await processor.judge(verdict.envelope);
    this.#quality?.add(verdict.envelope, outcomes);
    const failed = outcomes.find((o) => o.outcome === 'fail');
    return failed ? reject(`quality rule ${failed.rule} failed: ${failed.reason ?? ''}`, dataset.version) : verdict;
  }

  #validated(envelope: Envelope, dataset: DatasetVersion, lookups: BatchLookups, reject: (reason: string, version?: number) => DlqEntry): DlqEntry | Accepted {
    const timed = this.#eventTime.stamp(dataset, envelope);
    const check = lookups.payloadCheck(dataset, isCsvRow(envelope.source))(timed.payload);
    if (!check.valid) return reject(`does not match schema version ${dataset.version} of ${dataset.spec.name}: ${check.reason}`, dataset.version);
    return { dataset, envelope: 'payload' in check ? { ...timed, payload: check.payload } : timed };
  }

  #invalid(dead: DlqEntry[], entry: DlqEntry): void {
    dead.push(entry);
    this.#metrics.failedValidations.inc({ dataset: entry.dataset ?? '(unknown)', agent: this.#metrics.agentLabel(entry.origin?.agentId ?? entry.headers[KAFKA_HEADERS.agentId]) });
  }
}

/**
 * The bytes as text if they are valid UTF-8, else undefined; a leading byte order mark is dropped. Same
 * answers as a fatal `TextDecoder`, about three times faster (validation and decoding are native here).
 */
export function utf8Text(bytes: Buffer): string | undefined {
  if (!isUtf8(bytes)) return undefined;
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('utf8', bom ? 3 : 0);
}
