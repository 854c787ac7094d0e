// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiRequest } from '../../../common/ipc.ts';
import { errorAnswer, fakeControlPlane, type FakeRoutes } from '../../api/fake-control-plane.ts';
import { ClientContext } from '../../app/client-context.ts';
import { DatasetPage } from './dataset-page.tsx';
import { DatasetsPage } from './datasets-page.tsx';

afterEach(cleanup);

const V1 = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } };
const V2 = { ...V1, properties: { ...V1.properties, location: { type: 'object', properties: { lat: { type: 'number', description: 'WGS84' } } } } };
const meters = {
  spec: { name: 'meters', description: 'gas meters', partitionKey: 'device', sinks: { postgres: { enabled: true }, objectStore: { enabled: true, partitionBy: 'day', hash: { field: 'device', buckets: 4 } } } },
  topic: 'sluice.meters',
  latestVersion: 2,
  schema: V2,
  versions: [
    { version: 1, createdAt: '2026-12-01T00:00:00Z' },
    { version: 2, createdAt: '2026-12-02T00:00:00Z' },
  ],
  createdAt: '2026-12-01T00:00:00Z',
};
const REPORT = {
  latestVersion: 2,
  version: 3,
  compatibility: {
    compatible: false,
    changes: [
      { type: 'CHANGE_TYPE', path: 'device', compatible: false, detail: 'field device changed type from string to integer' },
      { type: 'ADD_COLUMN', path: 'note', compatible: true, detail: 'new optional field note (string)' },
    ],
  },
};

async function renderPage(page: 'list' | 'one', routes: FakeRoutes, role: 'viewer' | 'operator' = 'operator') {
  const { client, sent } = await fakeControlPlane(routes, role);
  render(<ClientContext.Provider value={client}>{page === 'list' ? <DatasetsPage /> : <DatasetPage name="meters" />}</ClientContext.Provider>);
  return sent;
}

const bodyOf = (request: ApiRequest | undefined): unknown => JSON.parse(request?.body ?? 'null');
const editor = () => screen.getByLabelText<HTMLTextAreaElement>('JSON Schema of the new version');

describe('datasets list', () => {
  it('shows each dataset with its latest version, stores and topic, linked to its page', async () => {
    await renderPage('list', { 'GET /api/v1/datasets': () => ({ items: [meters, { ...meters, spec: { name: 'raw', sinks: {} }, topic: 'sluice.raw', latestVersion: 1 }] }) });
    expect(screen.getByRole('status').textContent).toBe('Loading datasets…');
    await screen.findByText('2 datasets');
    const [first, second] = screen.getAllByRole('row').slice(1);
    expect(within(first!).getByRole('link', { name: 'meters' }).getAttribute('href')).toBe('#/datasets/meters');
    expect([...first!.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)).toEqual(['v2', 'PostgreSQL, Object store', 'sluice.meters']);
    expect(within(first!).getByText('gas meters')).toBeTruthy();
    expect([...second!.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)).toEqual(['v1', 'none']);
  });

  it('explains an empty list and an error', async () => {
    await renderPage('list', { 'GET /api/v1/datasets': () => ({ items: [] }) });
    expect(await screen.findByText('No dataset yet.')).toBeTruthy();
    cleanup();
    await renderPage('list', { 'GET /api/v1/datasets': () => errorAnswer(403, 'ForbiddenError', 'this route needs the viewer role') });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Your role may not do this: this route needs the viewer role');
    expect(within(alert).getByRole('button', { name: 'Try again' })).toBeTruthy();
  });
});

describe('dataset page', () => {
  it('shows the stores, the latest schema fields, and an earlier version on demand', async () => {
    const sent = await renderPage('one', { 'GET /api/v1/datasets/meters': () => meters, 'GET /api/v1/datasets/meters/versions/1': () => ({ version: 1, createdAt: '2026-12-01T00:00:00Z', schema: V1 }) });
    await screen.findByRole('heading', { name: 'meters' });
    expect(screen.getByText('sluice.meters')).toBeTruthy();
    const stores = screen.getByRole('table', { name: 'Stores' });
    expect(within(stores).getAllByRole('row').slice(1).map((r) => [...r.children].map((c) => c.textContent))).toEqual([
      ['PostgreSQL', 'yes', 'table meters', '—'],
      ['Search', 'no', '—', '—'],
      ['Object store', 'yes', 'meters/dt=…/', 'daily partitions, gzip NDJSON, bucket = hash(device) mod 4'],
    ]);
    const fields = screen.getByRole('table', { name: 'Fields of version 2' });
    expect(within(fields).getAllByRole('row').slice(1).map((r) => [...r.children].map((c) => c.textContent))).toEqual([
      ['device', 'string', 'required', ''],
      ['location', 'object', 'optional', ''],
      ['location.lat', 'number', 'optional', 'WGS84'],
      ['temperature', 'number', 'optional', ''],
    ]);
    expect(screen.getByRole('button', { name: 'v2 (latest)' }).getAttribute('aria-pressed')).toBe('true');
    fireEvent.click(screen.getByRole('button', { name: 'v1' }));
    const older = await screen.findByRole('table', { name: 'Fields of version 1' });
    expect(within(older).getAllByRole('row')).toHaveLength(3);
    expect(sent.map((r) => r.url)).toContain('/api/v1/datasets/meters/versions/1');
  });

  it('checks a proposed version, shows the report, and publishes an incompatible one only when forced', async () => {
    let published: ApiRequest | undefined;
    const sent = await renderPage('one', {
      'GET /api/v1/datasets/meters': () => meters,
      'POST /api/v1/datasets/meters/versions/check': () => REPORT,
      'POST /api/v1/datasets/meters/versions': (request) => {
        published = request;
        return { version: 3, compatibility: REPORT.compatibility, prepared: [] };
      },
    });
    await screen.findByRole('heading', { name: 'meters' });
    expect(JSON.parse(editor().value)).toEqual(V2);

    fireEvent.change(editor(), { target: { value: '{ "type": ' } });
    expect(screen.getByRole('alert').textContent).toMatch(/^Not valid JSON/);
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Check compatibility' }).disabled).toBe(true);

    const proposed = { type: 'object', properties: { device: { type: 'integer' }, note: { type: 'string' } } };
    fireEvent.change(editor(), { target: { value: JSON.stringify(proposed) } });
    fireEvent.click(screen.getByRole('button', { name: 'Check compatibility' }));
    const report = await screen.findByRole('status', { name: 'Compatibility report' });
    expect(report.textContent).toContain('As version 3, against version 2: 1 of 2 changes break compatibility.');
    expect(bodyOf(sent.find((r) => r.url.endsWith('/versions/check')))).toEqual({ schema: proposed });
    const rows = within(report).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.className)).toEqual(['compat-breaking', '']);
    expect(rows[0]!.textContent).toContain('field device changed type from string to integer');

    const publish = screen.getByRole<HTMLButtonElement>('button', { name: 'Publish version 3' });
    expect(publish.disabled).toBe(true);
    fireEvent.click(screen.getByRole('checkbox', { name: /Publish anyway/ }));
    expect(publish.disabled).toBe(false);
    fireEvent.click(publish);
    await screen.findByText('Version 3 published: records are validated against it from now on.');
    expect(published?.url).toBe('/api/v1/datasets/meters/versions?force=true');
    expect(bodyOf(published)).toEqual({ schema: proposed });

    // Any edit drops the report: it was about the text as it was.
    fireEvent.change(editor(), { target: { value: JSON.stringify(V2) } });
    expect(screen.queryByRole('status', { name: 'Compatibility report' })).toBeNull();
  });

  it('shows the server refusing a schema, and lets a viewer read but not propose', async () => {
    await renderPage('one', {
      'GET /api/v1/datasets/meters': () => meters,
      'POST /api/v1/datasets/meters/versions/check': () => errorAnswer(400, 'InputError', 'schema has patterns that cannot be used: /properties/code/pattern'),
    });
    await screen.findByRole('heading', { name: 'meters' });
    fireEvent.click(screen.getByRole('button', { name: 'Check compatibility' }));
    expect((await screen.findByRole('alert')).textContent).toContain('schema has patterns that cannot be used');
    cleanup();
    await renderPage('one', { 'GET /api/v1/datasets/meters': () => meters }, 'viewer');
    await screen.findByRole('heading', { name: 'meters' });
    expect(screen.getByText(/proposing a schema version needs the operator role/)).toBeTruthy();
    expect(screen.queryByLabelText('JSON Schema of the new version')).toBeNull();
  });
});
