/**
 * Job records into Kafka: envelopes on the dataset's topic, built like the batch ingest route builds them
 * (http/routes/ingest.ts), so the consumer validates them and every store writes them. Never into a store
 * directly. A record that is not one (bad JSON) travels with `parseError` and the consumer dead-letters it.
 */
import { envelopeHeaders, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import { RetryableError } from '@sluice/shared/node/retry';
import { partitionKeyOf } from '@sluice/shared/partition-key';
import type { JobRecord } from './registry.ts';
import { CONTROL_PLANE_AGENT_ID } from '../../consumer/raw-topics.ts';

/** The envelope's agentId of what a job publishes: the control plane, as for every record it makes itself. */
export const JOB_AGENT_ID = CONTROL_PLANE_AGENT_ID;
/** Messages per Kafka send. */
const SEND_CHUNK = 2_000;

export interface PublishTarget {
  dataset: DatasetVersion;
  jobId: string;
  jobKind: string;
  topicPrefix: string;
  maxRecordBytes: number;
  send: (messages: readonly OutgoingMessage[]) => Promise<void>;
}

/** Publishes `records`; answers the ones refused before Kafka (larger than SLUICE_MAX_RECORD_BYTES). */
export async function publishRecords(target: PublishTarget, records: readonly JobRecord[]): Promise<Array<{ position: string; reason: string }>> {
  const { dataset } = target;
  const topic = topicForDataset(dataset.spec.name, target.topicPrefix);
  const headers = envelopeHeaders(dataset.spec.name, JOB_AGENT_ID, dataset.version);
  const ingestTime = new Date().toISOString();
  const refused: Array<{ position: string; reason: string }> = [];
  let messages: OutgoingMessage[] = [];
  const flush = async (): Promise<void> => {
    if (messages.length === 0) return;
    const chunk = messages;
    messages = [];
    try {
      await target.send(chunk);
    } catch (error) {
      // Kafka refused or is away: the whole batch runs again (same ids), after a backoff.
      throw new RetryableError(`Kafka: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };
  for (const record of records) {
    const envelope: Envelope = {
      id: record.id,
      dataset: dataset.spec.name,
      agentId: JOB_AGENT_ID,
      source: { id: `job-${target.jobKind}`, kind: 'job', jobId: target.jobId, ...record.position },
      eventTime: record.eventTime,
      ingestTime,
      schemaVersion: dataset.version,
      payload: record.parseError ? null : record.payload,
      ...(record.parseError ? { parseError: record.parseError } : {}),
    };
    const value = Buffer.from(JSON.stringify(envelope));
    if (value.length > target.maxRecordBytes) {
      refused.push({ position: describePosition(record.position), reason: `record is ${value.length} bytes, larger than the limit of ${target.maxRecordBytes} bytes` });
      continue;
    }
    messages.push({ topic, key: partitionKeyOf(record.payload, dataset.spec.partitionKey) ?? record.id, value, headers });
    if (messages.length >= SEND_CHUNK) await flush();
  }
  await flush();
  return refused;
}

export function describePosition(position: Record<string, string | number>): string {
  return Object.entries(position)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
