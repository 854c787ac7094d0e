import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '@sluice/shared/envelope';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { envelope } from './support/messages.ts';
import { createTopics, envelopeMessage, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;

const schema = {
  type: 'object',
  required: ['station', 'latitude', 'zip'],
  properties: {
    station: { type: 'string' },
    latitude: { type: 'number' },
    zip: { type: 'string' },
    elevation: { type: ['integer', 'null'] },
    active: { type: 'boolean' },
  },
};

/** A row as the drop source ships a CSV file's row: every field a string, `format: csv` in the source. */
function csvRow(row: number, payload: Record<string, string>, format: string | undefined = 'csv'): Envelope {
  const source = { id: 'drop1', kind: 'drop' as const, file: 'stations.csv', sha256: 'f'.repeat(64), row, line: row + 2, ...(format ? { format } : {}) };
  return envelope('stations', `drop-row-${row}`, payload, { source });
}

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema);
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'csv-typing-int' });
  await new DatasetStore(state.pool).create({ name: 'stations', sinks: { postgres: { enabled: true } } }, schema);
  await createTopics(config, [`${config.topicPrefix}stations`, config.dlqTopic]);
});

afterAll(async () => {
  await running?.stop();
  await producer?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

describe('consumer: CSV rows are typed by the dataset schema before validation', () => {
  it('stores numbers as numbers, keeps leading zeros of strings, empties as null, and dead-letters what does not convert', async () => {
    const topic = `${config.topicPrefix}stations`;
    const key = 'one-partition';
    const rows = [
      csvRow(0, { station: '007', latitude: '40.8136', zip: '00501', elevation: '12', active: 'true' }),
      csvRow(1, { station: 'b', latitude: '-33.5', zip: '02134', elevation: '', active: 'FALSE' }),
      csvRow(2, { station: 'c', latitude: 'north', zip: '10001', elevation: '3', active: 'true' }),
      csvRow(3, { station: 'd', latitude: '1.5', zip: '10001', elevation: '3.5', active: 'true' }),
      // An agent from before `format` was written: the file's extension says CSV.
      csvRow(4, { station: 'e', latitude: '0', zip: '00000', elevation: '-4', active: 'false' }, undefined),
    ];
    // The same strings from a JSON source are not CSV and are not coerced.
    const json = envelope('stations', 'json-row', { station: 'f', latitude: '1.0', zip: '1' });
    await producer.send([...rows, json].map((e) => ({ ...envelopeMessage(topic, e), key })));
    running = await startConsumer(config, createLogger('csv-typing-int', { level: 'warn' }));

    const table = `${config.dataSchema}.stations`;
    const stored = await waitFor(
      '3 typed rows',
      async () =>
        (
          await state.pool.query<{ id: string; latitude: number; zip: string; elevation: string | null; active: boolean; station: string; payload: Record<string, unknown> }>(
            `SELECT id, latitude, zip, elevation, active, station, payload FROM ${table} ORDER BY id`,
          )
        ).rows,
      (r) => r.length === 3,
    );
    expect(stored.map((r) => [r.id, r.station, r.latitude, r.zip, r.elevation, r.active])).toEqual([
      ['drop-row-0', '007', 40.8136, '00501', '12', true],
      ['drop-row-1', 'b', -33.5, '02134', null, false],
      ['drop-row-4', 'e', 0, '00000', '-4', false],
    ]);
    // The jsonb copy holds the typed values too, as every other store gets them.
    expect(stored[0]!.payload).toEqual({ station: '007', latitude: 40.8136, zip: '00501', elevation: 12, active: true });
    expect(stored[1]!.payload).toMatchObject({ elevation: null });

    const dlq = await waitFor(
      '3 DLQ rows',
      async () => (await state.pool.query<{ record_id: string; reason: string }>('SELECT record_id, reason FROM dlq ORDER BY "offset"')).rows,
      (r) => r.length === 3,
    );
    expect(dlq).toEqual([
      { record_id: 'drop-row-2', reason: 'does not match schema version 1 of stations: CSV field /latitude: "north" is not a number' },
      { record_id: 'drop-row-3', reason: 'does not match schema version 1 of stations: CSV field /elevation: "3.5" is not an integer' },
      { record_id: 'json-row', reason: 'does not match schema version 1 of stations: /latitude: must be number' },
    ]);
  });
});
