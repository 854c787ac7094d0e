/**
 * `s3`: every object under a prefix of a bucket, on any S3-compatible store. Planned by listing (key order)
 * into batches of objects by size; a batch reads its objects and publishes their records, ids from the
 * store, bucket, key and ETag plus the record's byte offset (an object overwritten later is new data).
 */
import type { Client } from 'minio';
import { InputError } from '@sluice/shared/errors';
import { RetryableError } from '@sluice/shared/node/retry';
import { s3SourceSchema, type S3Source } from '@sluice/shared/api/jobs';
import type { ControlPlaneConfig } from '../../../config.ts';
import { createS3Client } from '../../../sinks/object-store/object-store-sink.ts';
import { classifyS3Error, describeS3Error } from '../../../sinks/object-store/s3-errors.ts';
import { fileRecords, groupBySize, maybeGunzip } from '../file-records.ts';
import { fingerprint } from '@sluice/shared/node/fingerprint';
import type { JobKind } from '../registry.ts';

interface S3Object {
  key: string;
  etag: string;
  size: number;
  lastModified: string;
}

export interface S3BatchInput {
  objects: S3Object[];
}

export function s3Client(spec: S3Source, config: ControlPlaneConfig): Client {
  const endpoint = (spec.endpoint ?? config.s3.endpoint).replace(/\/$/, '');
  const own = endpoint === config.s3.endpoint.replace(/\/$/, '');
  const fromEnv = (name: string | undefined): string | undefined => (name === undefined ? undefined : process.env[name]);
  if ((spec.accessKeyEnv === undefined) !== (spec.secretKeyEnv === undefined)) throw InputError('accessKeyEnv and secretKeyEnv go together');
  const accessKey = spec.accessKeyEnv !== undefined ? fromEnv(spec.accessKeyEnv) : own ? config.s3.accessKey : '';
  const secretKey = spec.secretKeyEnv !== undefined ? fromEnv(spec.secretKeyEnv) : own ? config.s3.secretKey : '';
  if (accessKey === undefined || secretKey === undefined) throw InputError(`the worker's environment has no ${spec.accessKeyEnv ?? ''} / ${spec.secretKeyEnv ?? ''}`);
  // The control plane's own keys go only to its own store; another store gets the keys named for it, or none.
  return createS3Client({ endpoint, accessKey, secretKey, region: spec.region ?? (own ? config.s3.region : undefined) });
}

/** An outage is worth another try; a missing bucket or refused key is not. */
function s3Failure(error: unknown, doing: string): Error {
  const message = `${doing}: ${describeS3Error(error)}`;
  return classifyS3Error(error) === 'permanent' ? new Error(message, { cause: error }) : new RetryableError(message, { cause: error });
}

export const s3Kind: JobKind<S3Source, S3BatchInput> = {
  kind: 's3',
  specSchema: s3SourceSchema,
  validate(spec, ctx) {
    s3Client(spec, ctx.config);
  },
  async plan(job, ctx) {
    const client = s3Client(job.spec, ctx.config);
    const objects: S3Object[] = [];
    try {
      const stream = client.listObjectsV2(job.spec.bucket, job.spec.prefix ?? '', true);
      for await (const item of stream as AsyncIterable<{ name?: string; size?: number; etag?: string; lastModified?: Date }>) {
        ctx.signal.throwIfAborted();
        if (item.name === undefined || item.name.endsWith('/')) continue;
        objects.push({ key: item.name, etag: (item.etag ?? '').replaceAll('"', ''), size: item.size ?? 0, lastModified: (item.lastModified ?? new Date(0)).toISOString() });
      }
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      throw s3Failure(error, `listing s3://${job.spec.bucket}/${job.spec.prefix ?? ''}`);
    }
    objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const { batchBytes, batchFiles } = ctx.config.jobs;
    return groupBySize(objects, batchBytes, batchFiles).map((group) => ({
      key: `s3:${group[0]!.key}`,
      input: { objects: group },
      bytes: group.reduce((n, o) => n + o.size, 0),
    }));
  },
  async run(batch, ctx) {
    const { spec } = batch;
    const client = s3Client(spec, ctx.config);
    const store = (spec.endpoint ?? ctx.config.s3.endpoint).replace(/\/$/, '');
    let records = 0;
    let bytes = 0;
    const errors: Array<{ position: string; reason: string }> = [];
    for (const object of batch.input.objects) {
      ctx.signal.throwIfAborted();
      let raw: Buffer;
      try {
        const stream = await client.getObject(spec.bucket, object.key);
        const chunks: Buffer[] = [];
        for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
        raw = Buffer.concat(chunks);
      } catch (error) {
        throw s3Failure(error, `reading s3://${spec.bucket}/${object.key}`);
      }
      let content: Buffer;
      try {
        content = maybeGunzip(object.key, raw);
      } catch (error) {
        errors.push({ position: `s3://${spec.bucket}/${object.key}`, reason: `not gzip: ${(error as Error).message}` });
        continue;
      }
      const found = fileRecords(content, {
        sourceId: 'lake-s3',
        fingerprint: fingerprint(store, spec.bucket, object.key, object.etag),
        format: spec.format ?? 'auto',
        eventTime: object.lastModified,
        position: { object: `s3://${spec.bucket}/${object.key}` },
      });
      for (const r of found) if (r.parseError) errors.push({ position: `s3://${spec.bucket}/${object.key} ${String(r.position.line ?? r.position.index)}`, reason: r.parseError.reason });
      await ctx.publish(found);
      records += found.length;
      bytes += raw.length;
      ctx.progress({ records: found.length, bytes: raw.length });
    }
    return { records, bytes, errors };
  },
};
