import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { uniqueName } from './support/stack-control.ts';

const env = loadStackEnv();

describe('postgresql', () => {
  const schema = uniqueName('smoke_pg').replaceAll('-', '_');
  const client = new pg.Client({ connectionString: env.pgUrl });

  afterAll(async () => {
    await client.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    await client.end();
  });

  it('runs with durable settings', async () => {
    await client.connect();
    const { rows } = await client.query<{ fsync: string; max: string }>(
      `select current_setting('fsync') as fsync, current_setting('max_connections') as max`,
    );
    expect(rows[0]).toEqual({ fsync: 'on', max: '200' });
  });

  it('COPYs rows into a table in its own schema', async () => {
    await client.query(`create schema "${schema}"`);
    await client.query(
      `create table "${schema}".events (id text primary key, n int not null, payload jsonb not null)`,
    );
    const lines = Array.from({ length: 1000 }, (_, i) => `r${i}\t${i}\t{"i":${i}}\n`);
    await pipeline(
      Readable.from(lines),
      client.query(copyFrom(`copy "${schema}".events (id, n, payload) from stdin`)),
    );
    const { rows } = await client.query<{ count: string; sum: string }>(
      `select count(*)::text as count, sum((payload->>'i')::int)::text as sum from "${schema}".events`,
    );
    expect(rows[0]).toEqual({ count: '1000', sum: String((999 * 1000) / 2) });
  });
});
