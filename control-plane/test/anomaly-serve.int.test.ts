/**
 * The detector as `sluice-control-plane serve` runs it (SLUICE_ANOMALY_INTERVAL_SECONDS), on its own state
 * schema, with the real pane finality: panes the real PostgreSQL sink wrote an hour ago hold a burst, and then
 * nothing; the serve process finds both (a volume anomaly, then silence), exports them on /metrics and answers
 * them from the API.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { freePort, ProcessGroup, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { PANE_MS } from '../src/analytics/pane-fold.ts';
import { PaneStore } from '../src/analytics/pane-store.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { PostgresSink } from '../src/sinks/postgres/postgres-sink.ts';
import { traffic, writeThroughSink } from './support/anomaly-traffic.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';

const BIN = fileURLToPath(new URL('../bin/sluice-control-plane.js', import.meta.url));
const id = suffix();
const dataSchema = `as_data_${id}`;
const schema = { type: 'object', properties: { site: { type: 'string' }, temp: { type: 'number' } } };
const ds: DatasetVersion = { spec: { name: `as_${id}`, sinks: { postgres: { enabled: true } }, aggregations: [{ name: 'volume', groupBy: [], measures: [], distinct: [] }] }, version: 1, schema };
// 130 minutes of ~60 rows a minute with a burst in minutes 120–123, ending 50 minutes ago.
const T0 = Math.floor(Date.now() / PANE_MS) * PANE_MS - 180 * PANE_MS;
const iso = (m: number) => new Date(T0 + m * PANE_MS).toISOString();
const metricsKey = `slk_${randomBytes(24).toString('base64url')}`;
const processes = new ProcessGroup({ keepChars: 20_000 });
let state: Awaited<ReturnType<typeof freshState>>;
let url = '';

beforeAll(async () => {
  state = await freshState(dataSchema);
  const sink = new PostgresSink({ connectionString: stackEnv.pgUrl, schema: dataSchema, poolSize: 2, panes: new PaneStore(state.schema) });
  try {
    await new DatasetStore(state.pool).create(ds.spec, schema);
    expect((await sink.prepare(ds)).kind).toBe('ok');
    await writeThroughSink(sink, ds, traffic(ds, T0, 130, ['gw-a'], (_agent, m) => (m >= 120 && m < 124 ? 500 : 60), 4));
  } finally {
    await sink.close();
  }
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const prefix = testTopicPrefix(`as${id}`);
  const serve = processes.start('serve', [BIN, 'serve'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: {
      SLUICE_HTTP_PORT: String(port),
      SLUICE_STATE_SCHEMA: state.schema,
      SLUICE_DATA_SCHEMA: dataSchema,
      SLUICE_TOPIC_PREFIX: prefix,
      SLUICE_DLQ_TOPIC: `${prefix}dlq`,
      SLUICE_METRICS_KEY: metricsKey,
      SLUICE_ANOMALY_INTERVAL_SECONDS: '1',
      SLUICE_ANALYTICS_RETENTION_INTERVAL_SECONDS: '0',
      SLUICE_LOG_LEVEL: 'warn',
    },
  });
  await waitForHttpOk(`${url}/healthz`, { child: serve, output: () => processes.output('serve'), what: 'serve', authorization: `Bearer ${metricsKey}`, timeoutMs: 90_000, intervalMs: 300 });
}, 180_000);

afterAll(async () => {
  await processes.stopAll();
  await state?.drop();
}, 60_000);

const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${metricsKey}` } });

describe('the anomaly detector in `serve`', () => {
  it('evaluates the final panes every interval, exports the anomalies and answers them', async () => {
    const text = await waitFor(
      async () => {
        const body = await (await get('/metrics')).text();
        return body.includes(`sluice_anomaly_open{dataset="${ds.spec.name}",kind="silence",series="silence",direction="silent"} 1`) ? body : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the silence of the dataset on /metrics', detail: () => processes.describe(3000) },
    );
    expect(text).toMatch(/sluice_anomaly_detector_runs_total\{result="ok"\} [1-9]/);
    const answer = (await (await get(`/api/v1/analytics/${ds.spec.name}/anomalies`)).json()) as { items: Array<{ series: string; state: string; windowStart: string }> };
    const found = answer.items.map((a) => [a.series, a.state, a.windowStart]);
    expect(found).toContainEqual(['volume', 'resolved', iso(120)]);
    expect(found).toContainEqual(['agent_volume:gw-a', 'resolved', iso(120)]);
    expect(found).toContainEqual(['silence', 'open', iso(130)]);
    expect(found).toContainEqual(['agent_silence:gw-a', 'open', iso(130)]);
  }, 90_000);
});
