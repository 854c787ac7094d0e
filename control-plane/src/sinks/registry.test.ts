import { describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { createSink, enabledSinkNames, sinkNames } from './registry.ts';

describe('sink registry', () => {
  it('knows the three sinks and which a dataset enables', () => {
    expect(sinkNames()).toEqual(['postgres', 'search', 'object-store']);
    expect(enabledSinkNames({ name: 'd', sinks: { postgres: { enabled: true }, search: { enabled: false }, objectStore: { enabled: true, partitionBy: 'hour' } } })).toEqual(['postgres', 'object-store']);
    expect(enabledSinkNames({ name: 'd', sinks: {} })).toEqual([]);
  });
  it('creates sinks by name and refuses unknown names', async () => {
    const context = { env: {}, logger: createLogger('test', { level: 'silent' }) };
    const sink = createSink('search', context);
    expect(sink.name).toBe('search');
    await sink.close();
    await sink.close();
    expect(() => createSink('nope', context)).toThrow(/unknown sink "nope"/);
  });
});
