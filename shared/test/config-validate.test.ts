import { describe, expect, it } from 'vitest';
import { configHash } from '@sluice/shared/node/config-hash';
import { validateAgentConfig, validatePipeline } from '@sluice/shared/agent-config/validate';

const file = { type: 'file', id: 'app', dataset: 'app_logs', include: ['/var/log/app/*.log'] };

describe('validatePipeline', () => {
  it('applies the same defaults as the agent config, without touching its input', () => {
    const input = { sources: [file] };
    const result = validatePipeline(input);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const source = result.value.sources[0];
    expect(source?.type === 'file' && source.startAt).toBe('beginning');
    expect(input.sources[0]).toEqual(file);
    const agent = validateAgentConfig({ kafka: { brokers: ['k:9092'] }, sources: [file] });
    expect(agent.ok && agent.value.sources).toEqual(result.value.sources);
    expect(validatePipeline({})).toEqual({ ok: true, value: { sources: [] } });
  });

  it('says a local setting is never part of a policy, and names every problem by path', () => {
    const result = validatePipeline({
      kafka: { brokers: ['k:9092'] },
      allowedRoots: ['/'],
      sources: [file, { ...file, include: [] }, { type: 'nope', id: 'x' }],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const lines = result.problems.map((p) => `${p.path}: ${p.reason}`);
    expect(lines).toContain("kafka: is a local setting of the agent (its YAML), never part of a policy's pipeline");
    expect(lines).toContain("allowedRoots: is a local setting of the agent (its YAML), never part of a policy's pipeline");
    expect(lines).not.toContain('kafka: is not a known option');
    expect(lines).toContain('sources[1].include: must NOT have fewer than 1 items');
    expect(lines).toContain('sources[2].type: must be one of "file", "drop", "http-poll", "http-push", "mqtt"');
  });

  it('checks what the schema cannot: unique ids and regular expressions', () => {
    const result = validatePipeline({ sources: [file, { ...file, multiline: { startPattern: '(' } }] });
    expect(result.ok ? [] : result.problems.map((p) => p.path)).toEqual(['sources[1].id', 'sources[1].multiline.startPattern']);
  });

  it('agentId is optional in the schema (fleet-managed agents get it from enrollment)', () => {
    expect(validateAgentConfig({ kafka: { brokers: ['k:9092'] } }).ok).toBe(true);
  });
});

describe('configHash', () => {
  it('names the defaulted pipeline: key order and omitted defaults do not change it', () => {
    const a = validatePipeline({ sources: [file] });
    const b = validatePipeline({ sources: [{ include: ['/var/log/app/*.log'], dataset: 'app_logs', id: 'app', type: 'file', startAt: 'beginning' }] });
    if (!a.ok || !b.ok) throw new Error('invalid');
    expect(configHash(a.value)).toMatch(/^[0-9a-f]{64}$/);
    expect(configHash(a.value)).toBe(configHash(b.value));
    const c = validatePipeline({ sources: [{ ...file, startAt: 'end' }] });
    if (!c.ok) throw new Error('invalid');
    expect(configHash(c.value)).not.toBe(configHash(a.value));
  });
});
