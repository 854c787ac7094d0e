// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiRequest, ApiResponse } from '../../../common/ipc.ts';
import { ApiClient } from '../../api/client.ts';
import { ClientContext } from '../../app/client-context.ts';
import { DiffView } from './diff-view.tsx';
import { PolicyPage } from './policy-page.tsx';

afterEach(cleanup);

const HASH = 'a'.repeat(64);
const CONFIG = { sources: [{ type: 'file', id: 'app', dataset: 'app_logs', include: ['/var/log/app/*.log'], format: 'text' }] };
const policy = { name: 'edge', description: 'gateways', selector: { labels: { site: 'berlin' } }, priority: 5, currentRevision: 1, createdBy: 'ops', createdAt: '2026-12-01T00:00:00Z' };
const revision = { id: 1, policy: 'edge', number: 1, hash: HASH, message: 'first', createdBy: 'ops', createdAt: '2026-12-01T00:00:00Z' };

const ok = (body: unknown): ApiResponse => ({ kind: 'response', status: 200, statusText: 'OK', headers: {}, body: JSON.stringify(body) });

const session = (role: string) => ({ user: { username: 'ops', role }, accessToken: 't', tokenType: 'Bearer', expiresAt: '2999-01-01T00:00:00Z', refreshExpiresAt: '2999-01-01T00:00:00Z' });

/** A control plane answering by `METHOD path` (query left off), signed in as `role`; every request is kept in `sent`. */
async function renderPolicy(routes: Record<string, (request: ApiRequest) => unknown>, role = 'operator') {
  const sent: ApiRequest[] = [];
  routes = { ...routes, 'POST /api/v1/auth/login': () => session(role) };
  const client = new ApiClient({
    baseUrl: '',
    transport: {
      send: (request) => {
        sent.push(request);
        const route = routes[`${request.method} ${request.url.split('?')[0]!}`];
        return Promise.resolve(route ? ok(route(request)) : { kind: 'response', status: 404, statusText: '', headers: {}, body: JSON.stringify({ error: { name: 'NotFoundError', message: request.url } }) });
      },
    },
    keeper: { client: 'browser', keep: () => Promise.resolve(), refreshRequest: () => Promise.resolve(undefined), forget: () => Promise.resolve() },
  });
  await client.login('ops', 'a passphrase');
  render(
    <ClientContext.Provider value={client}>
      <PolicyPage name="edge" />
    </ClientContext.Provider>,
  );
  return sent;
}

const ROLLOUT = {
  id: 3,
  policy: 'edge',
  fromRevision: 1,
  toRevision: 2,
  strategy: { kind: 'staged' },
  state: 'running',
  wave: 0,
  waveCount: 1,
  phase: 'applying',
  phaseStartedAt: '2026-12-01T00:00:00Z',
  gateReport: null,
  reason: null,
  createdBy: 'ops',
  createdAt: '2026-12-01T00:00:00Z',
  updatedAt: '2026-12-01T00:00:00Z',
  finishedAt: null,
  agents: [{ agentId: 'gw-1', wave: 0 }],
};

const BASE_ROUTES = {
  'GET /api/v1/policies/edge': () => policy,
  'GET /api/v1/policies/edge/revisions': () => ({ items: [revision] }),
  'GET /api/v1/policies/edge/revisions/1': () => ({ ...revision, config: CONFIG }),
  'GET /api/v1/policies/edge/rollouts': () => ({ items: [] }),
  'GET /api/v1/agents': () => ({ items: [] }),
};

const editor = () => screen.getByLabelText<HTMLTextAreaElement>(/Pipeline \(JSON/);
const review = () => screen.getByRole<HTMLButtonElement>('button', { name: 'Review changes' });
const publish = () => screen.getByRole<HTMLButtonElement>('button', { name: /^Publish/ });
const problems = () => within(screen.getByRole('list', { name: 'Problems' })).getAllByRole('listitem');

describe('policy editor', () => {
  it('puts a schema error at its field and keeps publishing off until it is fixed', async () => {
    await renderPolicy(BASE_ROUTES);
    await screen.findByText('The config is valid.');
    expect(editor().value).toContain('"format": "text"');
    expect(review().disabled).toBe(false);

    fireEvent.change(editor(), { target: { value: editor().value.replace('"format": "text"', '"format": "xml"') } });
    const [problem] = problems();
    expect(problem!.getAttribute('data-path')).toBe('sources[0].format');
    expect(problem!.textContent).toContain('must be one of "text", "json"');
    const line = editor().value.split('\n').findIndex((l) => l.includes('"xml"')) + 1;
    expect(within(problem!).getByRole('button').textContent).toBe(`line ${String(line)}`);
    expect(document.querySelector('.gutter-bad')?.textContent).toBe(`● ${String(line)}`);
    expect(editor().getAttribute('aria-invalid')).toBe('true');
    expect(review().disabled).toBe(true);
    expect(publish().disabled).toBe(true);
    expect(screen.getByText('Fix the problems above to publish.')).toBeTruthy();

    fireEvent.click(within(problem!).getByRole('button'));
    expect(document.activeElement).toBe(editor());
    expect(editor().value.slice(editor().selectionStart).startsWith('"format"')).toBe(true);

    fireEvent.change(editor(), { target: { value: editor().value.replace('"xml"', '"json"') } });
    expect(screen.getByText('The config is valid.')).toBeTruthy();
    expect(review().disabled).toBe(false);
    expect(screen.getByText('Effective config (defaults filled in)')).toBeTruthy();
  });

  it('lists the options the text leaves to their defaults, with their values', async () => {
    await renderPolicy(BASE_ROUTES);
    await screen.findByText('The config is valid.');
    fireEvent.change(editor(), { target: { value: JSON.stringify({ sources: [{ type: 'file', id: 'app', dataset: 'app_logs', include: ['/var/log/*.log'] }] }) } });
    const row = document.querySelector('tr[data-path="sources[id=app].format"]');
    expect(row?.textContent).toBe('sources[id=app].format"text"');
    expect(screen.getByText(/options keep their defaults$/)).toBeTruthy();
  });

  it('takes an operator back to an earlier revision at once, after asking', async () => {
    const sent = await renderPolicy({
      ...BASE_ROUTES,
      'GET /api/v1/policies/edge': () => ({ ...policy, currentRevision: 2 }),
      'GET /api/v1/policies/edge/revisions': () => ({ items: [{ ...revision, number: 2 }, revision] }),
      'GET /api/v1/policies/edge/revisions/2': () => ({ ...revision, number: 2, config: CONFIG }),
      'POST /api/v1/policies/edge/rollback': () => ({ policy: 'edge', currentRevision: 1 }),
    });
    const back = await screen.findByRole('button', { name: 'Make current' });
    expect(back.closest('tr')?.getAttribute('data-revision')).toBe('1');
    fireEvent.click(back);
    fireEvent.click(screen.getByRole('button', { name: 'Yes, make revision 1 current' }));
    await waitFor(() => expect(sent.some((r) => r.method === 'POST' && r.url === '/api/v1/policies/edge/rollback')).toBe(true));
    expect(JSON.parse(sent.find((r) => r.url === '/api/v1/policies/edge/rollback')!.body!)).toEqual({ revision: 1 });
  });

  it('shows a viewer the pipeline and the rollout, with nothing to change', async () => {
    // The list leaves out a rollout's agents; the page reads the latest one whole.
    const routes = { ...BASE_ROUTES, 'GET /api/v1/policies/edge/rollouts': () => ({ items: [{ ...ROLLOUT, agents: [] }] }), 'GET /api/v1/rollouts/3': () => ROLLOUT };
    await renderPolicy(routes, 'viewer');
    await screen.findByText('The config is valid.');
    expect(editor().readOnly).toBe(true);
    expect(screen.getByText(/publishing needs the operator role/)).toBeTruthy();
    await screen.findByText(/Rollout 3: revision 1/);
    expect(document.querySelector('tr[data-agent="gw-1"]')?.textContent).toBe('gw-1applying');
    expect(screen.queryByRole('button', { name: /Review|Publish|Pause|Abort|Roll back|Make current/ })).toBeNull();
  });

  it('says where JSON does not parse', async () => {
    await renderPolicy(BASE_ROUTES);
    await screen.findByText('The config is valid.');
    fireEvent.change(editor(), { target: { value: '{\n  "sources": [,]\n}' } });
    expect(problems()[0]!.textContent).toContain('is not valid JSON');
    expect(within(problems()[0]!).getByRole('button').textContent).toBe('line 2');
    expect(review().disabled).toBe(true);
  });

  it("shows the server's problems at their field, then the diff and a staged rollout on publish", async () => {
    let serverOk = false;
    const sent = await renderPolicy({
      ...BASE_ROUTES,
      'POST /api/v1/policies/edge/validate': (r) =>
        serverOk ? { ok: true, problems: [], hash: HASH, config: (JSON.parse(r.body!) as { config: unknown }).config } : { ok: false, problems: [{ path: 'sources[0].dataset', reason: 'dataset "app_logz" does not exist' }] },
      'POST /api/v1/policies/edge/revisions': () => ({ ...revision, number: 2, config: {} }),
      'POST /api/v1/policies/edge/rollouts': () => ({}),
    });
    await screen.findByText('The config is valid.');
    fireEvent.change(editor(), { target: { value: editor().value.replace('"app_logs"', '"app_logz"') } });
    fireEvent.click(review());
    const [problem] = await screen.findAllByText(/does not exist/);
    expect(problem!.closest('li')?.getAttribute('data-path')).toBe('sources[0].dataset');
    expect(within(problem!.closest('li')!).getByRole('button').textContent).toBe('line 6');

    serverOk = true;
    fireEvent.change(editor(), { target: { value: editor().value.replace('"app_logz"', '"app_logs_2"') } });
    fireEvent.click(review());
    const diffRow = await screen.findByText('sources[id=app].dataset');
    expect(diffRow.closest('tr')?.textContent).toContain('"app_logs_2"');
    fireEvent.change(screen.getByLabelText('Waves (% of the rest, comma-separated)'), { target: { value: '100' } });
    fireEvent.click(screen.getByRole('button', { name: 'Publish and start staged rollout' }));
    await screen.findByText('Revision 2 published; its rollout started.');
    const started = sent.find((r) => r.url === '/api/v1/policies/edge/rollouts' && r.method === 'POST');
    expect(JSON.parse(started!.body!)).toEqual({ revision: 2, strategy: { kind: 'staged', canary: { percent: 10 }, waves: [{ percent: 100 }], soakSeconds: 300, gate: {} } });
  });
});

describe('diff view', () => {
  it('shows each changed path with before and after', () => {
    render(
      <DiffView
        caption="revision 1 → 2"
        changes={[
          { op: 'changed', path: 'sources[id=app].format', before: 'text', after: 'json' },
          { op: 'added', path: 'sources[id=drop]', after: { type: 'drop' } },
          { op: 'removed', path: 'sources[id=old]', before: { type: 'file' } },
        ]}
      />,
    );
    expect(screen.getByText('revision 1 → 2: 3 changes')).toBeTruthy();
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows.map((r) => r.className)).toEqual(['diff-changed', 'diff-added', 'diff-removed']);
    expect(rows.map((r) => [...r.querySelectorAll('td.mono')].map((c) => c.textContent))).toEqual([
      ['"text"', '"json"'],
      ['', '{\n "type": "drop"\n}'],
      ['{\n "type": "file"\n}', ''],
    ]);
  });

  it('says when there is no difference', () => {
    render(<DiffView caption="the two revisions" changes={[]} />);
    expect(screen.getByText('No difference: the two revisions are the same.')).toBeTruthy();
  });
});
