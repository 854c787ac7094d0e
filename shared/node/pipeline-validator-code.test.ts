import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sourcesSchema } from '../src/agent-config/pipeline.ts';
import { validatePipelinePrecompiled } from '../src/agent-config/precompiled-pipeline-validator.ts';
import { validatePipeline } from '../src/agent-config/validate.ts';
import { GENERATED_FILE, pipelineValidatorCode } from './pipeline-validator-code.ts';

describe('the precompiled pipeline validator', () => {
  it('is generated from the current schema (else run: node shared/node/pipeline-validator-code.ts)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8') === pipelineValidatorCode()).toBe(true);
  });

  it('answers what validatePipeline answers: defaults, problems, discriminator, lengths', () => {
    const configs: unknown[] = [
      { sources: [] },
      {},
      { sources: [{ type: 'file', id: 'app', dataset: 'logs', include: ['/var/log/app/*.log'] }] },
      { sources: [{ type: 'file', id: 'app', dataset: 'logs', include: [] }] },
      { sources: [{ type: 'nope', id: 'x' }] },
      { sources: [{ type: 'file', id: '', dataset: 'logs', include: ['/a'] }, { type: 'drop', id: 'd' }] },
      { kafka: {}, sources: [{ type: 'http-push', id: 'p', dataset: 'logs' }] },
      { sources: [{ type: 'file', id: 'a', dataset: 'logs', include: ['/a'], multiline: { startPattern: '(' } }] },
      '{ not an object',
    ];
    for (const config of configs) expect(validatePipelinePrecompiled(config)).toEqual(validatePipeline(config));
  });

  it("answers the same for every source type's own examples, and for each with a wrong value", () => {
    const examples = sourcesSchema.items.oneOf.flatMap((source) => source.examples as readonly Record<string, unknown>[]);
    expect(new Set(examples.map((e) => e.type))).toEqual(new Set(sourcesSchema.items.properties.type.enum));
    for (const example of examples) {
      const valid = validatePipeline({ sources: [example] });
      expect(valid.ok, JSON.stringify(valid)).toBe(true);
      expect(validatePipelinePrecompiled({ sources: [example] })).toEqual(valid);
      const broken = { sources: [{ ...example, id: 'not a valid id!', unknownOption: 1 }] };
      const refused = validatePipeline(broken);
      expect(refused.ok).toBe(false);
      expect(validatePipelinePrecompiled(broken)).toEqual(refused);
    }
  });
});
