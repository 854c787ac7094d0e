import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { ownSchemas } from '@sluice/shared/node/testing/test-resources';
import { loadConfig } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { buildSinks } from '../src/sinks/registry.ts';
import { dataset } from './support/sink-fixtures.ts';
import { deleteSearchIndices } from './support/harness.ts';
import { stackEnv, suffix } from './support/state.ts';

const id = suffix();
const dataSchema = `cp_settings_${id}`;
const index = `sluice-settings-${id}`;
ownSchemas(dataSchema);
// The process's own wiring (what `serve` and `consume` run), configured the way an operator would.
const { registry } = buildSinks(
  loadConfig({ ...process.env, SLUICE_DATA_SCHEMA: dataSchema, SLUICE_SEARCH_REPLICAS: '0', SLUICE_SEARCH_REFRESH_INTERVAL: '7s', SLUICE_S3_DEDUPE_WINDOW_HOURS: '0' }),
  createLogger('test', { level: 'silent' }),
);
const pool = createPool(stackEnv.pgUrl, 'public', 1);

afterAll(async () => {
  await Promise.allSettled(registry.all().map((sink) => sink.close()));
  await deleteSearchIndices(index);
  await pool.query(`DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`);
  await pool.end();
});

describe('sink settings from the environment reach the running sinks', () => {
  it('creates the search template with SLUICE_SEARCH_REPLICAS / _REFRESH_INTERVAL and the table in SLUICE_DATA_SCHEMA', async () => {
    const ds = dataset('readings', { type: 'object', properties: { n: { type: 'integer' } } }, 1, { postgres: { enabled: true }, search: { enabled: true, index } });
    expect(await registry.prepare(ds)).toEqual([
      { sink: 'postgres', outcome: { kind: 'ok' } },
      { sink: 'search', outcome: { kind: 'ok' } },
    ]);
    const template = (await (await fetch(`${stackEnv.searchUrl}/_index_template/${index}`)).json()) as {
      index_templates: Array<{ index_template: { template: { settings: { index: Record<string, unknown> } } } }>;
    };
    expect(template.index_templates[0]?.index_template.template.settings.index).toMatchObject({ number_of_replicas: '0', refresh_interval: '7s' });
    const tables = await pool.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [dataSchema]);
    expect(tables.rows.map((r) => r.table_name)).toEqual(['readings']);
  });
});
