import { describe, expect, it } from 'vitest';
import { validatePipeline } from '@sluice/shared/agent-config/validate';
import { validatePipelinePrecompiled } from '@sluice/shared/agent-config/precompiled-pipeline-validator';
import { defaultClientId } from './mqtt-source.ts';

const source = (extra: Record<string, unknown>) => ({ sources: [{ type: 'mqtt', id: 'sensors', dataset: 'readings', url: 'mqtt://127.0.0.1:1883', topics: ['site/+site/#'], ...extra }] });

describe('mqtt source config', () => {
  it('applies the defaults: QoS 1, JSON, MQTT 5 with a week of session expiry', () => {
    const result = validatePipeline(source({}));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.sources[0]).toMatchObject({ qos: 1, format: 'json', protocolVersion: 5, sessionExpirySeconds: 604_800, batchSize: 1000, reconnect: { minDelayMs: 500, maxDelayMs: 30_000 } });
  });

  it('names the field and the reason of what is wrong, in the compiled validator the console uses too', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ topics: ['a/#/b'] }, 'sources[0].topics[0]: must match'],
      [{ topics: [] }, 'sources[0].topics: must NOT have fewer than 1 items'],
      [{ qos: 2 }, 'sources[0].qos: must be one of 0, 1'],
      [{ url: 'http://broker:1883' }, 'sources[0].url: must match'],
      [{ url: 'mqtt://user:pw@broker:1883' }, 'sources[0].url: must match'],
      [{ format: 'xml' }, 'sources[0].format: must be one of "json", "text", "binary"'],
      [{ tls: { cert: 'c.pem' } }, 'sources[0].tls: must have property key when property cert is present'],
      [{ keepalive: 5 }, 'sources[0].keepalive: is not a known option'],
    ];
    for (const [extra, expected] of cases) {
      for (const validate of [validatePipeline, validatePipelinePrecompiled]) {
        const result = validate(source(extra));
        expect(result.ok, JSON.stringify(extra)).toBe(false);
        if (result.ok) continue;
        expect(result.problems.map((p) => `${p.path}: ${p.reason}`).join('\n'), JSON.stringify(extra)).toContain(expected);
      }
    }
  });

  it('derives a stable MQTT 3.1.1-sized client id per agent and source', () => {
    const id = defaultClientId('gateway-1', 'sensors');
    expect(id).toMatch(/^sluice-[0-9a-f]{16}$/);
    expect(id.length).toBeLessThanOrEqual(23);
    expect(defaultClientId('gateway-1', 'sensors')).toBe(id);
    expect(defaultClientId('gateway-2', 'sensors')).not.toBe(id);
    expect(defaultClientId('gateway-1', 'other')).not.toBe(id);
  });
});
