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
});
