import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('reads the bootstrap keys, treats empty as unset, and refuses one key for two roles', () => {
    const admin = 'admin-key-0123456789abcdef';
    const metrics = 'metrics-key-0123456789abcdef';
    expect(loadConfig({ SLUICE_ADMIN_KEY: admin, SLUICE_METRICS_KEY: metrics })).toMatchObject({ adminKey: admin, metricsKey: metrics });
    expect(loadConfig({ SLUICE_ADMIN_KEY: '', SLUICE_METRICS_KEY: '' })).toMatchObject({ adminKey: undefined, metricsKey: undefined });
    expect(() => loadConfig({ SLUICE_ADMIN_KEY: admin, SLUICE_METRICS_KEY: admin })).toThrow(/SLUICE_METRICS_KEY must differ from SLUICE_ADMIN_KEY/);
  });

  it('bounds what one Kafka fetch may return: 8 MiB unless SLUICE_FETCH_MAX_BYTES says otherwise', () => {
    expect(loadConfig({}).batch.fetchMaxBytes).toBe(8 * 1024 * 1024);
    expect(loadConfig({ SLUICE_FETCH_MAX_BYTES: '1048576' }).batch.fetchMaxBytes).toBe(1024 * 1024);
  });
});
