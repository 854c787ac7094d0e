/** The object-store sink on a bucket of its own, for the sink conformance kit (sink-conformance.ts). */
import { gunzipSync } from 'node:zlib';
import type { Envelope } from '@sluice/shared/envelope';
import type { IdLedger } from '../../src/sinks/object-store/id-ledger.ts';
import { createS3Client, ObjectStoreSink, type ObjectStoreSinkConfig } from '../../src/sinks/object-store/object-store-sink.ts';
import { dataset, envelope, uniqueSuffix } from './sink-fixtures.ts';
import type { SinkUnderTest } from './sink-conformance.ts';

/**
 * `via` is where the sink reaches the store (the kit's proxy); `ledger` makes the id ledger the sink gets in
 * production, on a pool the caller owns.
 */
export function objectStoreUnderTest(
  config: ObjectStoreSinkConfig,
  via?: { host: string; port: number },
  ledger?: () => IdLedger,
): SinkUnderTest {
  const bucket = `sink-kit-${uniqueSuffix()}`;
  const endpoint = new URL(config.endpoint);
  if (via !== undefined) {
    endpoint.hostname = via.host;
    endpoint.port = String(via.port);
  }
  const sink = new ObjectStoreSink({ ...config, endpoint: endpoint.origin, bucket, ...(ledger === undefined ? {} : { ledger: ledger() }) });
  // Straight to the store, whatever state the sink under test is in.
  const direct = { ...config, bucket };
  const client = createS3Client(direct);
  const kit = dataset(`kit_${uniqueSuffix()}`, { type: 'object', properties: { n: { type: 'integer' }, text: { type: 'string' } } }, 1, {
    objectStore: { enabled: true, partitionBy: 'hour' },
  });
  return {
    sink,
    dataset: kit,
    storedIds: async () => {
      if (!(await client.bucketExists(bucket))) return [];
      const ids: string[] = [];
      for await (const item of client.listObjectsV2(bucket, `${kit.spec.name}/`, true) as AsyncIterable<{ name?: string }>) {
        if (item.name === undefined) continue;
        const parts: Buffer[] = [];
        for await (const part of await client.getObject(bucket, item.name)) parts.push(part as Buffer);
        for (const line of gunzipSync(Buffer.concat(parts)).toString('utf8').split('\n')) if (line !== '') ids.push((JSON.parse(line) as Envelope).id);
      }
      return ids.sort();
    },
    // A record with no readable time has no time partition, so no object key.
    refused: (id) => ({ ...envelope(kit.spec.name, id, { n: 0, text: 'timeless' }), eventTime: 'not a date', ingestTime: 'not a date' }),
    cleanup: async () => {
      if (await client.bucketExists(bucket)) await new ObjectStoreSink(direct).removeBucket();
    },
  };
}
