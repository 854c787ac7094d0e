/** The paths are read back from the reason the consumer's own intake writes, so the two cannot drift apart. */
import { describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { BatchLookups } from '../consumer/batch-lookups.ts';
import { RecordIntake } from '../consumer/record-intake.ts';
import { ValidatorCache } from '../datasets/validators.ts';
import { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { envelope, message } from '../../test/support/messages.ts';
import { failurePaths } from './failure-paths.ts';

const meters: DatasetVersion = {
  spec: { name: 'meters', sinks: { postgres: { enabled: true } } },
  version: 3,
  schema: {
    type: 'object',
    required: ['device'],
    properties: { device: { type: 'string' }, reading: { type: 'object', properties: { 'value now': { type: 'number' }, unit: { enum: ['C', 'F'] } } } },
  },
};

async function reasonFor(payload: unknown): Promise<string> {
  const intake = new RecordIntake({ maxRecordBytes: 1 << 20, metrics: new ControlPlaneMetrics() });
  const lookups = new BatchLookups({ latest: () => Promise.resolve(meters) }, new ValidatorCache(), (_what, operation) => operation());
  const { dead } = await intake.take([message(envelope('meters', 'r1', payload))], lookups);
  expect(dead).toHaveLength(1);
  return dead[0]!.reason;
}

describe('failurePaths', () => {
  it('names every location the schema refuses, once, the root as /', async () => {
    const reason = await reasonFor({ reading: { 'value now': 'hot', unit: 'K' } });
    expect(reason).toMatch(/^does not match schema version 3 of meters: /);
    expect(failurePaths(reason).sort()).toEqual(['/', '/reading/unit', '/reading/value now']);
  });

  it('names no path for a reason that is not a schema failure', async () => {
    expect(failurePaths(await reasonFor({ device: 'a\u0000b' }))).toEqual([]);
    expect(failurePaths('unknown dataset meters')).toEqual([]);
    expect(failurePaths('sink postgres refused the record: /x: bad')).toEqual([]);
  });
});
