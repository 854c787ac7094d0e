import { Client } from 'minio';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { uniqueName } from './support/stack-control.ts';

const env = loadStackEnv();

describe('minio (S3 API)', () => {
  const bucket = uniqueName('smoke-s3');
  const client = new Client({
    endPoint: env.s3.host,
    port: env.s3.port,
    useSSL: env.s3.useSSL,
    accessKey: env.s3.accessKey,
    secretKey: env.s3.secretKey,
  });

  afterAll(async () => {
    await client.removeObject(bucket, 'dataset=smoke/part-0.ndjson').catch(() => undefined);
    await client.removeBucket(bucket).catch(() => undefined);
  });

  it('puts and gets an object in its own bucket', async () => {
    await client.makeBucket(bucket);
    const body = Buffer.from('{"id":"a"}\n{"id":"b"}\n');
    await client.putObject(bucket, 'dataset=smoke/part-0.ndjson', body, body.length, {
      'Content-Type': 'application/x-ndjson',
    });
    const stat = await client.statObject(bucket, 'dataset=smoke/part-0.ndjson');
    expect(stat.size).toBe(body.length);
    const chunks: Buffer[] = [];
    for await (const chunk of await client.getObject(bucket, 'dataset=smoke/part-0.ndjson'))
      chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
  });
});
