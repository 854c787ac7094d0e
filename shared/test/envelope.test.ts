import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { envelopeSchema, topicForDataset } from '../src/envelope.ts';

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile(envelopeSchema);

const valid = {
  id: 'edge-1:app:f:abc:0',
  dataset: 'sensor_readings',
  agentId: 'edge-1',
  source: { id: 'app', kind: 'file', path: '/var/log/app.log', offset: 0 },
  eventTime: '2026-11-23T10:00:00.000Z',
  ingestTime: '2026-11-23T10:00:00.100Z',
  payload: { temperature: 21.5 },
};

describe('envelope schema', () => {
  it('accepts a well-formed envelope, with source position fields', () => {
    expect(validate(valid)).toBe(true);
  });

  it('names what is wrong', () => {
    expect(validate({ ...valid, dataset: 'Bad-Name', eventTime: 'yesterday' })).toBe(false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath);
    expect(paths).toContain('/dataset');
    expect(paths).toContain('/eventTime');
  });

  it('carries parse errors instead of dropping bad input', () => {
    expect(validate({ ...valid, payload: null, parseError: { reason: 'line 3: not JSON', raw: '{oops' } })).toBe(true);
  });

  it('maps datasets to topics', () => {
    expect(topicForDataset('sensor_readings')).toBe('sluice.sensor_readings');
  });
});
