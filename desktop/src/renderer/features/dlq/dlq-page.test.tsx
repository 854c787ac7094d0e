// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiRequest } from '../../../common/ipc.ts';
import { fakeControlPlane, type FakeRoutes } from '../../api/fake-control-plane.ts';
import { ClientContext } from '../../app/client-context.ts';
import { DlqPage } from './dlq-page.tsx';

afterEach(cleanup);

const entry = (id: string, recordId: string, reason: string) => ({
  id,
  dataset: 'meters',
  recordId,
  topic: 'sluice.meters',
  partition: 0,
  offset: id,
  reason,
  reasonKind: 'schema',
  paths: ['/temperature'],
  schemaVersion: 1,
  headers: {},
  size: 120,
  originalBase64: btoa('{}'),
  originalText: '{}',
  createdAt: new Date().toISOString(),
  replayedAt: null,
});
const ENTRIES = [entry('8', 'm-1', 'does not match schema version 1 of meters: /temperature: must be number'), entry('7', 'm-0', 'does not match schema version 1 of meters: /temperature: must be number')];
const COUNTS = {
  total: 2,
  byReasonKind: [{ reasonKind: 'schema', count: 2, notReplayed: 2, lastAt: new Date().toISOString(), example: 'does not match schema version 1 of meters: /temperature: must be number', datasets: [{ dataset: 'meters', count: 2 }] }],
};
const METERS = { spec: { name: 'meters', sinks: { postgres: { enabled: true } } }, topic: 'sluice.meters', latestVersion: 2, schema: {}, versions: [{ version: 1, createdAt: '2026-12-01T00:00:00Z' }, { version: 2, createdAt: '2026-12-02T00:00:00Z' }], createdAt: '2026-12-01T00:00:00Z' };
const replay = (id: string) => ({ id, recordId: `r-${id}`, replay: { replayedAt: new Date().toISOString(), keyId: 'k', keyName: 'ops', forced: false, topic: 'sluice.meters', partition: 0, offset: '99' } });

async function renderDlq(routes: FakeRoutes = {}, role: 'viewer' | 'operator' = 'operator') {
  const { client, sent } = await fakeControlPlane(
    { 'GET /api/v1/dlq': () => ({ total: 2, items: ENTRIES }), 'GET /api/v1/dlq/counts': () => COUNTS, 'GET /api/v1/datasets': () => ({ items: [METERS] }), ...routes },
    role,
  );
  render(
    <ClientContext.Provider value={client}>
      <DlqPage />
    </ClientContext.Provider>,
  );
  await screen.findByText('2 entries');
  return sent;
}

const bodyOf = (sent: ApiRequest[], url: string) => sent.filter((r) => r.method === 'POST' && r.url === url).map((r) => JSON.parse(r.body ?? 'null') as unknown);

describe('DLQ page', () => {
  it('lists the entries and the counts by reason, by default those never replayed', async () => {
    const sent = await renderDlq();
    expect(screen.getByRole('table', { name: /By reason/ }).textContent).toContain('schema mismatch');
    expect(within(screen.getByRole('table', { name: 'Entries' })).getAllByRole('row')).toHaveLength(3);
    expect(sent.find((r) => r.url.startsWith('/api/v1/dlq?'))?.url).toBe('/api/v1/dlq?replayed=false&limit=50');
  });

  it('dry-runs the chosen entries against the chosen schema version and shows what would pass', async () => {
    const sent = await renderDlq({
      'POST /api/v1/dlq/dry-run': () => ({ matched: 1, total: 1, truncated: false, against: { dataset: 'meters', version: 2 }, wouldPass: 1, wouldFail: 0, byReason: [], samples: [] }),
    });
    fireEvent.click(screen.getByLabelText('Choose entry 7'));
    fireEvent.change(screen.getByLabelText('Schema version'), { target: { value: '2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Dry run' }));
    const result = await screen.findByRole('status', { name: 'Dry run result' });
    expect(result.textContent).toContain('Against schema version 2 of meters: 1 of 1 entry would pass, 0 would fail again.');
    expect(bodyOf(sent, '/api/v1/dlq/dry-run')).toEqual([{ ids: ['7'], against: { dataset: 'meters', version: 2 }, samples: 10 }]);
    // Another choice is another question: the answer is no longer shown.
    fireEvent.click(screen.getByLabelText('Choose entry 8'));
    expect(screen.queryByRole('status', { name: 'Dry run result' })).toBeNull();
  });

  it('replays all of the filter, after a confirmation, request after request until none remain', async () => {
    const answers = [
      { replayed: [replay('7')], skipped: [], remaining: 1, through: '8' },
      { replayed: [replay('8')], skipped: [], remaining: 0, through: '8' },
    ];
    const sent = await renderDlq({ 'POST /api/v1/dlq/replay': () => answers.shift() });
    fireEvent.click(screen.getByRole('button', { name: 'Replay…' }));
    const confirm = screen.getByRole('group', { name: 'Confirm the replay' });
    expect(confirm.textContent).toContain('every never-replayed entry of the filter (entries of every dataset, never replayed)');
    fireEvent.click(within(confirm).getByRole('button', { name: 'Replay' }));
    expect((await screen.findByRole('status', { name: 'Replay result' })).textContent).toContain('Replayed 2 entries.');
    expect(bodyOf(sent, '/api/v1/dlq/replay')).toEqual([
      { filter: { replayed: false }, limit: 200 },
      { filter: { replayed: false }, limit: 200, through: '8' },
    ]);
  });

  it('shows a viewer the entries but neither dry run nor replay', async () => {
    await renderDlq({}, 'viewer');
    expect(screen.queryByRole('button', { name: 'Dry run' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Replay…' })).toBeNull();
    expect(screen.getByText(/Dry runs and replays need the operator role/)).toBeTruthy();
  });
});
