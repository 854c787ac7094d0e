import { describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { loadConfig } from '../config.ts';
import { buildSinks, objectStoreSinkConfig, SINK_KEYS, searchSinkConfig, sinkFactories, SinkRegistry } from './registry.ts';
import { MemorySink } from '../../test/support/memory-sink.ts';

const REQUIRED = { SLUICE_PG_URL: 'postgres://u:p@127.0.0.1:1/db', SLUICE_S3_ACCESS_KEY: 'ak', SLUICE_S3_SECRET_KEY: 'sk' };
const logger = createLogger('test', { level: 'silent' });

describe('sink registry', () => {
  it('knows the three sinks and which a dataset enables', () => {
    expect(SINK_KEYS).toEqual(['postgres', 'search', 'objectStore']);
    const registry = new SinkRegistry();
    const [pg, search, objects] = ['postgres', 'search', 'object-store'].map((name) => new MemorySink(name));
    registry.register('postgres', pg!).register('search', search!).register('objectStore', objects!);
    const names = (spec: Parameters<SinkRegistry['forDataset']>[0]) => registry.forDataset(spec).sinks.map((s) => s.name);
    expect(names({ name: 'd', sinks: { postgres: { enabled: true }, search: { enabled: false }, objectStore: { enabled: true, partitionBy: 'hour' } } })).toEqual(['postgres', 'object-store']);
    expect(names({ name: 'd', sinks: {} })).toEqual([]);
  });

  it('builds every sink kind from the config, and reports enabled sinks it has no instance for', async () => {
    const { registry, blobs } = buildSinks(loadConfig({ ...REQUIRED, SLUICE_S3_DEDUPE_WINDOW_HOURS: '0' }), logger);
    expect(registry.all().map((s) => s.name)).toEqual(['postgres', 'search', 'object-store']);
    expect(blobs).toBeDefined();
    const sink = sinkFactories.search({ config: loadConfig(REQUIRED), logger });
    expect(sink.name).toBe('search');
    await sink.close();
    await sink.close();
    await Promise.all(registry.all().map((s) => s.close()));
    expect(new SinkRegistry().forDataset({ name: 'd', sinks: { search: { enabled: true } } }).missing).toEqual(['search']);
  });

  it('hands the sinks every option a user sets: search credentials, replicas, refresh interval, S3 region', () => {
    const config = loadConfig({
      ...REQUIRED,
      SLUICE_SEARCH_URL: 'https://search.example:9200',
      SLUICE_SEARCH_USERNAME: 'elastic',
      SLUICE_SEARCH_PASSWORD: 'pw',
      SLUICE_SEARCH_REPLICAS: '2',
      SLUICE_SEARCH_REFRESH_INTERVAL: '30s',
      SLUICE_S3_REGION: 'eu-central-1',
      SLUICE_S3_BUCKET: 'lake',
    });
    expect(searchSinkConfig(config)).toEqual({ url: 'https://search.example:9200', username: 'elastic', password: 'pw', template: { replicas: 2, refreshInterval: '30s' } });
    expect(searchSinkConfig(loadConfig({ ...REQUIRED, SLUICE_SEARCH_API_KEY: 'key' }))).toEqual({ url: 'http://127.0.0.1:9200', apiKey: 'key', template: {} });
    expect(objectStoreSinkConfig(config)).toEqual({ endpoint: 'http://127.0.0.1:9000', accessKey: 'ak', secretKey: 'sk', bucket: 'lake', region: 'eu-central-1' });
  });
});
