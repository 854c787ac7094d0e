import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

/** The settings without a default: they carry credentials. */
const REQUIRED = { SLUICE_PG_URL: 'postgres://u:p@db.example:5432/sluice', SLUICE_S3_ACCESS_KEY: 'ak', SLUICE_S3_SECRET_KEY: 'sk' };

describe('loadConfig', () => {
  it('reads the bootstrap keys, treats empty as unset, and refuses one key for two roles', () => {
    const admin = 'admin-key-0123456789abcdef';
    const metrics = 'metrics-key-0123456789abcdef';
    expect(loadConfig({ ...REQUIRED, SLUICE_ADMIN_KEY: admin, SLUICE_METRICS_KEY: metrics })).toMatchObject({ adminKey: admin, metricsKey: metrics });
    expect(loadConfig({ ...REQUIRED, SLUICE_ADMIN_KEY: '', SLUICE_METRICS_KEY: '' })).toMatchObject({ adminKey: undefined, metricsKey: undefined });
    expect(() => loadConfig({ ...REQUIRED, SLUICE_ADMIN_KEY: admin, SLUICE_METRICS_KEY: admin })).toThrow(/SLUICE_METRICS_KEY must differ from SLUICE_ADMIN_KEY/);
  });

  it('bounds what one Kafka fetch may return: 1 MiB unless SLUICE_FETCH_MAX_BYTES says otherwise', () => {
    expect(loadConfig(REQUIRED).batch.fetchMaxBytes).toBe(1024 * 1024);
    expect(loadConfig({ ...REQUIRED, SLUICE_FETCH_MAX_BYTES: '524288' }).batch.fetchMaxBytes).toBe(512 * 1024);
  });

  it('bounds a consumer batch in bytes: 8 MiB unless SLUICE_BATCH_MAX_BYTES says otherwise', () => {
    expect(loadConfig(REQUIRED).batch.maxBytes).toBe(8 * 1024 * 1024);
    expect(loadConfig({ ...REQUIRED, SLUICE_BATCH_MAX_BYTES: '65536' }).batch.maxBytes).toBe(65536);
  });

  it('takes everything from the environment, never from scripts/stack.env: credentials have no default', () => {
    expect(() => loadConfig({})).toThrow(/SLUICE_PG_URL must be set/);
    expect(() => loadConfig({ ...REQUIRED, SLUICE_S3_SECRET_KEY: '' })).toThrow(/SLUICE_S3_SECRET_KEY must be set/);
    const config = loadConfig({ ...REQUIRED, SLUICE_KAFKA_BROKERS: 'k1:9092, k2:9092', SLUICE_S3_ENDPOINT: 'https://s3.example', SLUICE_SEARCH_URL: 'https://search.example' });
    expect(config).toMatchObject({ pgUrl: REQUIRED.SLUICE_PG_URL, kafkaBrokers: ['k1:9092', 'k2:9092'], s3: { endpoint: 'https://s3.example', accessKey: 'ak', secretKey: 'sk' } });
    expect(config.search.url).toBe('https://search.example');
  });

  it('defaults addresses to the local stack and sink options to the engines\' own', () => {
    expect(loadConfig(REQUIRED)).toMatchObject({
      kafkaBrokers: ['127.0.0.1:9092'],
      dataSchema: 'sluice_data',
      s3: { endpoint: 'http://127.0.0.1:9000', bucket: 'sluice', region: undefined },
      search: { url: 'http://127.0.0.1:9200', username: undefined, apiKey: undefined, replicas: undefined, refreshInterval: undefined },
    });
    expect(loadConfig({ ...REQUIRED, SLUICE_DATA_SCHEMA: 'lake_data' }).dataSchema).toBe('lake_data');
  });

  it('refuses sink options the engines would refuse later, naming the variable', () => {
    expect(() => loadConfig({ ...REQUIRED, SLUICE_SEARCH_REPLICAS: 'two' })).toThrow(/SLUICE_SEARCH_REPLICAS must be a non-negative integer/);
    expect(() => loadConfig({ ...REQUIRED, SLUICE_SEARCH_REFRESH_INTERVAL: 'soon' })).toThrow(/SLUICE_SEARCH_REFRESH_INTERVAL must be a duration/);
    expect(() => loadConfig({ ...REQUIRED, SLUICE_DATA_SCHEMA: 'Bad-Name' })).toThrow(/SLUICE_DATA_SCHEMA must be a lower-case SQL identifier/);
  });
});
