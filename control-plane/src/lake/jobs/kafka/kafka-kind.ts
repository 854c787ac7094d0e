/**
 * `kafka`: replays offset ranges of a topic's partitions into the dataset. A message that is a Sluice
 * envelope keeps its record id (a replay of a dataset's own history lands nothing twice); any other message
 * is a record whose id comes from the topic, partition and offset — the id the consumer gives it when the
 * topic is a dataset's raw input topic (consumer/raw-topics.ts), so a replay of one lands nothing twice either. Read by plain fetches (no group, nothing
 * committed), in batches of at most BATCH_OFFSETS offsets.
 */
import { judgeItem } from '@sluice/shared/json-batch';
import { readPartitionRange } from '@sluice/shared/node/kafka-range';
import { RetryableError } from '@sluice/shared/node/retry';
import { kafkaSourceSchema, type KafkaSource } from '@sluice/shared/api/jobs';
import { InputError } from '@sluice/shared/errors';
import { kafkaMessageId } from '../../../consumer/raw-topics.ts';
import type { JobKind, JobRecord } from '../registry.ts';

const BATCH_OFFSETS = 20_000;

export interface KafkaBatchInput {
  partition: number;
  from: number;
  to: number;
}

interface EnvelopeLike {
  id: string;
  payload?: unknown;
  eventTime?: string;
  parseError?: { reason: string; raw: string; rawEncoding?: 'utf8' | 'base64' };
}

function asEnvelope(value: unknown): EnvelopeLike | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || typeof v.dataset !== 'string' || !('payload' in v) || typeof v.agentId !== 'string') return undefined;
  return v as unknown as EnvelopeLike;
}

export const kafkaKind: JobKind<KafkaSource, KafkaBatchInput> = {
  kind: 'kafka',
  specSchema: kafkaSourceSchema,
  validate(spec) {
    for (const r of spec.ranges) if (r.to < r.from) throw InputError(`range of partition ${r.partition}: to (${r.to}) is before from (${r.from})`);
  },
  plan(job) {
    const batches = [];
    for (const range of job.spec.ranges) {
      for (let from = range.from; from < range.to; from += BATCH_OFFSETS) {
        const to = Math.min(range.to, from + BATCH_OFFSETS);
        batches.push({ key: `kafka:${range.partition}:${from}`, input: { partition: range.partition, from, to }, records: to - from });
      }
    }
    return Promise.resolve(batches);
  },
  async run(batch, ctx) {
    const { topic } = batch.spec;
    const { partition, from, to } = batch.input;
    let records = 0;
    let bytes = 0;
    const errors: Array<{ position: string; reason: string }> = [];
    try {
      await readPartitionRange(
        ctx.config.kafkaBrokers,
        { topic, partition, from: BigInt(from), to: BigInt(to) },
        async (messages) => {
          const out: JobRecord[] = [];
          for (const m of messages) {
            const offset = Number(m.offset);
            const position = { topic, partition, offset };
            const eventTime = new Date(Number(m.timestamp)).toISOString();
            const bytesOf = m.value?.length ?? 0;
            bytes += bytesOf;
            if (m.value === null) continue;
            const item = judgeItem(m.value, `offset ${offset}`);
            const envelope = 'value' in item ? asEnvelope(item.value) : undefined;
            if (envelope) {
              out.push({ id: envelope.id, eventTime: envelope.eventTime ?? eventTime, position, ...(envelope.parseError ? { parseError: envelope.parseError } : { payload: envelope.payload }) });
            } else {
              const id = kafkaMessageId(topic, partition, offset);
              if ('error' in item) errors.push({ position: `${topic}/${partition}@${offset}`, reason: item.error });
              out.push({ id, eventTime, position, ...('error' in item ? { parseError: { reason: item.error, raw: item.raw, rawEncoding: item.rawEncoding } } : { payload: item.value }) });
            }
          }
          await ctx.publish(out);
          records += out.length;
          ctx.progress({ records: out.length, bytes: messages.reduce((n, m) => n + (m.value?.length ?? 0), 0) });
        },
        { signal: ctx.signal },
      );
    } catch (error) {
      if (ctx.signal.aborted || error instanceof RetryableError) throw error;
      throw new RetryableError(`reading ${topic}/${partition} [${from}, ${to}): ${(error as Error).message}`, { cause: error });
    }
    return { records, bytes, errors };
  },
};
