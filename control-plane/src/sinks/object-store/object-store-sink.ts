/**
 * Object-store sink over the plain S3 API (the `minio` client speaks to MinIO, AWS S3 and other S3 stores).
 * Each batch becomes one gzip NDJSON object per time partition, keyed by the Kafka offsets it holds (see
 * object-keys.ts), so a replayed batch overwrites its own objects. With a ledger (id-ledger.ts) a record
 * whose id another Kafka position already stored is left out, so a copy at a new offset is stored once too.
 * Blob files travel separately: see `ObjectStoreSink.blobs` (blob-assembler.ts).
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { Client } from 'minio';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { failed, ok, retryable, type Outcome } from '@sluice/shared/outcome';
import { createLogger, type Logger } from '@sluice/shared/node/logger';
import type { Sink, SinkBatch, SinkRecord, SinkWriteResult } from '../sink.ts';
import type { PartitionStats, SegmentStat } from '../../lake/partitions/partition-stats.ts';
import { BlobAssembler } from './blob-assembler.ts';
import { type IdLedger, LedgerUnavailableError } from './id-ledger.ts';
import { firstOffsetOfKey, leaveOut, segmentBatch, type Segment } from './object-keys.ts';
import { s3ErrorCode, s3Outcome } from './s3-errors.ts';

const gzip = promisify(gzipCallback);

export interface ObjectStoreSinkConfig {
  /** e.g. http://127.0.0.1:9000 */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  /** Created if missing. The operator's setting and its default live in config.ts. */
  bucket: string;
  /** Segments of one batch uploaded at once. Default 4. */
  uploadConcurrency?: number;
  /**
   * gzip level. Default 3: on NDJSON envelopes it costs about a fifth of the CPU of level 6 for objects
   * ~15% larger, and CPU is what a consumer runs out of first.
   */
  gzipLevel?: number;
  /** Dedupe by record id across offsets; without it, segments dedupe by Kafka offset only. */
  ledger?: IdLedger;
  /** Lake partition statistics (lake_segments), kept per object key so a replay never double counts. */
  stats?: PartitionStats;
  logger?: Logger;
}

export function createS3Client(config: Pick<ObjectStoreSinkConfig, 'endpoint' | 'accessKey' | 'secretKey' | 'region'>): Client {
  const url = new URL(config.endpoint);
  const useSSL = url.protocol === 'https:';
  return new Client({
    endPoint: url.hostname,
    port: url.port === '' ? (useSSL ? 443 : 80) : Number(url.port),
    useSSL,
    accessKey: config.accessKey,
    secretKey: config.secretKey,
    // Path-style addressing works with every S3 store; virtual-host style needs DNS for each bucket.
    pathStyle: true,
    region: config.region ?? 'us-east-1',
  });
}

export class ObjectStoreSink implements Sink {
  readonly name = 'object-store';
  readonly bucket: string;
  /** Reassembles blob files from their chunks in the same bucket; see BlobAssembler. */
  readonly blobs: BlobAssembler;
  readonly #client: Client;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #gzipLevel: number;
  readonly #ledger: IdLedger | undefined;
  readonly #stats: PartitionStats | undefined;
  #bucketReady: Promise<void> | undefined;
  #closed = false;

  constructor(config: ObjectStoreSinkConfig) {
    this.bucket = config.bucket;
    this.#client = createS3Client(config);
    this.#logger = config.logger ?? createLogger('object-store-sink');
    this.#concurrency = config.uploadConcurrency ?? 4;
    this.#gzipLevel = config.gzipLevel ?? 3;
    this.#ledger = config.ledger;
    this.#stats = config.stats;
    this.blobs = new BlobAssembler({ client: this.#client, bucket: this.bucket, ensureBucket: () => this.#ensureBucket(), logger: this.#logger });
  }

  async prepare(_dataset: DatasetVersion): Promise<Outcome> {
    try {
      await this.#ensureBucket();
      return ok;
    } catch (error) {
      return s3Outcome(error, `creating bucket ${this.bucket}`, this.#logger);
    }
  }

  async write(batch: SinkBatch): Promise<SinkWriteResult> {
    if (this.#closed) return failed('object-store sink is closed');
    const { segments, rejected } = segmentBatch(batch);
    try {
      await this.#ensureBucket();
      if (this.#ledger === undefined || segments.length === 0) await this.#putSegments(batch, segments);
      else {
        let bodies: Array<Promise<Buffer>> = [];
        const claimed = this.#ledger.withClaims(this.bucket, batch.dataset.spec.name, placedRecords(batch, segments, rejected.length), (duplicates) =>
          duplicates.size === 0 ? this.#putSegments(batch, segments, bodies) : this.#putSegments(batch, leaveOut(segments, duplicates)),
        );
        // Encoded while the claim is on its way: with no duplicates (the usual answer) these are the bodies.
        bodies = segments.map((segment) => this.#encode(segment));
        for (const body of bodies) body.catch(() => undefined);
        await claimed;
      }
    } catch (error) {
      // The pipeline logs the reason once per stall; nothing was claimed, so the retry starts afresh.
      if (error instanceof LedgerUnavailableError) return retryable(error.message, 1_000);
      if (error instanceof StatsUnavailableError) return retryable(error.message, 1_000);
      // The bucket may have been removed behind our back: check again on the next attempt.
      if (s3ErrorCode(error) === 'NoSuchBucket') this.#bucketReady = undefined;
      return s3Outcome(error, `writing ${segments.length} segment(s) of ${batch.topic}/${batch.partition}@${batch.firstOffset}`, this.#logger);
    }
    return { ...ok, rejected };
  }

  async flush(): Promise<void> {
    // putObject resolves once the store has the object: nothing is buffered here.
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#ledger?.close();
    await this.#stats?.close();
  }

  /** Removes the bucket and everything in it. For tests and benchmarks only. */
  async removeBucket(): Promise<void> {
    const names: string[] = [];
    for await (const item of this.#client.listObjectsV2(this.bucket, '', true) as AsyncIterable<{ name?: string }>) {
      if (item.name) names.push(item.name);
    }
    for (let i = 0; i < names.length; i += 1000) await this.#client.removeObjects(this.bucket, names.slice(i, i + 1000));
    await this.#client.removeBucket(this.bucket);
    this.#bucketReady = undefined;
  }

  /** `bodies[i]`, when given, is `segments[i]` encoded. */
  async #putSegments(batch: SinkBatch, segments: readonly Segment[], bodies?: ReadonlyArray<Promise<Buffer>>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < segments.length) {
        const i = next++;
        await this.#putSegment(batch, segments[i]!, bodies?.[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, segments.length) }, worker));
  }

  /**
   * Writes the segment (or, when every record in it is a duplicate, removes its key: an earlier attempt may
   * have written it before those ids were another position's), then removes this partition's objects in the
   * same folder that start inside it, after its first offset. Such an object was written by a batch that was
   * never committed (the consumer only re-reads from its committed offset): its records are in this segment
   * or past its end, where the next replayed segment rewrites them. So a replay holds each record once however differently it is cut, even
   * when several batches were in the sinks at the crash. Zero-padded offsets make this one bounded listing.
   */
  async #putSegment(batch: SinkBatch, segment: Segment, body?: Promise<Buffer>): Promise<void> {
    if (segment.records.length > 0) {
      const bytes = await (body ?? this.#encode(segment));
      await this.#putSegmentObject(batch, segment, bytes);
      await this.#recordStats(() => this.#stats?.record(this.bucket, [segmentStat(batch, segment, bytes.length)]));
    } else {
      await this.#client.removeObject(this.bucket, segment.key);
      await this.#recordStats(() => this.#stats?.remove(this.bucket, [segment.key]));
    }
    if (segment.lastOffset === segment.firstOffset) return;
    const stale: string[] = [];
    const listing = this.#client.listObjectsV2(this.bucket, segment.keyPrefix, true, segment.key) as AsyncIterable<{ name?: string }>;
    for await (const item of listing) {
      const first = item.name === undefined ? undefined : firstOffsetOfKey(item.name, segment.keyPrefix);
      if (first === undefined || first > segment.lastOffset) break;
      stale.push(item.name!);
    }
    if (stale.length === 0) return;
    this.#logger.info({ superseded: stale.length, segment: segment.key }, 'replaced objects of an uncommitted earlier write');
    await this.#client.removeObjects(this.bucket, stale);
    await this.#recordStats(() => this.#stats?.remove(this.bucket, stale));
  }

  /** A statistics write that fails makes the batch retryable: the replay rewrites the same objects and rows. */
  async #recordStats(write: () => Promise<void> | undefined): Promise<void> {
    try {
      await write();
    } catch (error) {
      throw new StatsUnavailableError(`partition statistics: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #encode(segment: Segment): Promise<Buffer> {
    let ndjson = '';
    for (const r of segment.records) ndjson += `${JSON.stringify(r.envelope)}\n`;
    // Same records → same bytes: Node's gzip header carries no timestamp, so a replay writes an identical object.
    return gzip(ndjson, { level: this.#gzipLevel });
  }

  async #putSegmentObject(batch: SinkBatch, segment: Segment, body: Buffer): Promise<void> {
    await this.#client.putObject(this.bucket, segment.key, body, body.length, {
      // A plain .gz file, not Content-Encoding: gzip, so no HTTP client unpacks it on the way.
      'Content-Type': 'application/gzip',
      'x-amz-meta-sluice-dataset': batch.dataset.spec.name,
      'x-amz-meta-sluice-schema-version': String(batch.dataset.version),
      'x-amz-meta-sluice-records': String(segment.records.length),
      'x-amz-meta-sluice-offsets': `${segment.firstOffset}-${segment.lastOffset}`,
    });
  }

  #ensureBucket(): Promise<void> {
    this.#bucketReady ??= (async () => {
      if (await this.#client.bucketExists(this.bucket)) return;
      try {
        await this.#client.makeBucket(this.bucket);
      } catch (error) {
        // Another consumer created it between our check and our request.
        const code = s3ErrorCode(error);
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw error;
      }
      this.#logger.info({ bucket: this.bucket }, 'bucket created');
    })().catch((error: unknown) => {
      this.#bucketReady = undefined;
      throw error;
    });
    return this.#bucketReady;
  }
}

class StatsUnavailableError extends Error {}

function segmentStat(batch: SinkBatch, segment: Segment, bytes: number): SegmentStat {
  let min: number | undefined;
  let max: number | undefined;
  for (const r of segment.records) {
    const ms = Date.parse(r.envelope.eventTime);
    if (Number.isNaN(ms)) continue;
    if (min === undefined || ms < min) min = ms;
    if (max === undefined || ms > max) max = ms;
  }
  return {
    key: segment.key,
    dataset: batch.dataset.spec.name,
    partition: segment.partition,
    records: segment.records.length,
    bytes,
    minEventTime: min === undefined ? undefined : new Date(min).toISOString(),
    maxEventTime: max === undefined ? undefined : new Date(max).toISOString(),
    firstOffset: segment.firstOffset,
    lastOffset: segment.lastOffset,
  };
}

/** The batch's records that landed in a segment, in offset order (the earlier copy of an id owns it). */
function placedRecords(batch: SinkBatch, segments: readonly Segment[], rejected: number): readonly SinkRecord[] {
  if (rejected === 0) return batch.records;
  const placed = new Set(segments.flatMap((s) => s.records));
  return batch.records.filter((r) => placed.has(r));
}
