// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { errorAnswer, fakeControlPlane, type FakeRoutes } from '../../api/fake-control-plane.ts';
import { ClientContext } from '../../app/client-context.ts';

afterEach(cleanup);

// uPlot (the chart, loaded with the page) asks for matchMedia when its module loads; jsdom has none. No
// chart is drawn here: these answers have no windows.
Object.defineProperty(window, 'matchMedia', {
  configurable: true,
  value: (query: string) => ({
    matches: false,
    media: query,
    onchange: null,
    addListener: () => undefined,
    removeListener: () => undefined,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    dispatchEvent: () => false,
  }),
});
const { AnalyticsPage } = await import('./analytics-page.tsx');

const dataset = (name: string, aggregations?: unknown[]) => ({
  spec: { name, sinks: { postgres: { enabled: true } }, ...(aggregations ? { aggregations } : {}) },
  topic: `sluice.${name}`,
  latestVersion: 1,
  schema: { type: 'object' },
  versions: [{ version: 1, createdAt: '2026-12-01T00:00:00.000Z' }],
  createdAt: '2026-12-01T00:00:00.000Z',
});

async function renderPage(routes: FakeRoutes, name?: string) {
  const { client, sent } = await fakeControlPlane(routes, 'viewer');
  render(
    <ClientContext.Provider value={client}>
      <AnalyticsPage dataset={name} />
    </ClientContext.Provider>,
  );
  return sent;
}

const quiet: FakeRoutes = {
  'GET /api/v1/datasets': () => ({
    items: [
      dataset('plain'),
      dataset('readings', [{ name: 'volume', groupBy: [], measures: [], distinct: [] }]),
    ],
  }),
  'GET /api/v1/analytics/readings/aggregates': () => ({
    dataset: 'readings',
    aggregation: 'volume',
    windowMinutes: 5,
    hopMinutes: 5,
    windows: [],
  }),
  'GET /api/v1/analytics/readings/counters': () => ({
    dataset: 'readings',
    minute: '2026-12-01T10:00:00.000Z',
    aggregations: [{ aggregation: 'volume', groups: [] }],
  }),
};

describe('analytics page', () => {
  it('offers only datasets with aggregations, and says plainly when there is nothing to draw', async () => {
    const sent = await renderPage({
      ...quiet,
      'GET /api/v1/analytics/readings/anomalies': () => ({
        dataset: 'readings',
        from: '2026-12-01T09:00:00.000Z',
        to: '2026-12-01T10:00:00.000Z',
        items: [],
        nextCursor: null,
      }),
    });
    await screen.findByText('No records in this range for volume.');
    expect([...screen.getByLabelText<HTMLSelectElement>('Dataset').options].map((o) => o.value)).toEqual([
      'readings',
    ]);
    await screen.findByText('No anomalies in the last hour.');
    expect(screen.getByText(/Nothing has arrived in the current minute \(10:00 UTC\) yet/)).toBeTruthy();
    const asked = new URL(
      `http://x${sent.find((r) => r.url.startsWith('/api/v1/analytics/readings/aggregates'))!.url}`,
    );
    expect(Object.fromEntries(asked.searchParams)).toMatchObject({
      aggregation: 'volume',
      windowMinutes: '5',
      limit: '1000',
    });
  });

  it('shows a clear empty state when the control plane does not answer anomalies, and keeps the rest', async () => {
    await renderPage(quiet, 'readings');
    await screen.findByText(/This control plane does not answer anomalies/);
    expect(screen.getByText('No records in this range for volume.')).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('reports other anomaly errors as errors, and a console without aggregating datasets says what to do', async () => {
    await renderPage({
      ...quiet,
      'GET /api/v1/analytics/readings/anomalies': () =>
        errorAnswer(400, 'InputError', 'from must be before to'),
    });
    expect((await screen.findByRole('alert')).textContent).toContain('from must be before to');
    cleanup();
    await renderPage({ 'GET /api/v1/datasets': () => ({ items: [dataset('plain')] }) });
    await screen.findByText(/No dataset declares aggregations yet/);
  });
});
