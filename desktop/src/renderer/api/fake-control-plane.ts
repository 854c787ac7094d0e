/**
 * For component tests: an ApiClient signed in as `role` against a control plane that answers by
 * `METHOD path` (the query left off). A route returns a body (answered 200) or a whole `answer(…)`; an
 * unknown route answers 404. Every request is kept in `sent`, so a test can check what the page asked for.
 */
import type { ApiRequest, ApiResponse } from '../../common/ipc.ts';
import { ApiClient } from './client.ts';

export type FakeRoutes = Record<string, (request: ApiRequest) => unknown>;

export const answer = (status: number, body: unknown): ApiResponse => ({ kind: 'response', status, statusText: '', headers: {}, body: JSON.stringify(body) });

export const errorAnswer = (status: number, name: string, message: string, details?: unknown): ApiResponse =>
  answer(status, { error: { name, message, ...(details === undefined ? {} : { details }) } });

const isAnswer = (value: unknown): value is ApiResponse => typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'response';

export async function fakeControlPlane(routes: FakeRoutes, role: 'viewer' | 'operator' | 'admin' = 'operator'): Promise<{ client: ApiClient; sent: ApiRequest[] }> {
  const sent: ApiRequest[] = [];
  const session = { user: { username: `test-${role}`, role }, accessToken: 't', tokenType: 'Bearer', expiresAt: '2999-01-01T00:00:00Z', refreshExpiresAt: '2999-01-01T00:00:00Z' };
  const all: FakeRoutes = { ...routes, 'POST /api/v1/auth/login': () => session };
  const client = new ApiClient({
    baseUrl: '',
    transport: {
      send: (request) => {
        sent.push(request);
        const route = all[`${request.method} ${request.url.split('?')[0] ?? ''}`];
        if (!route) return Promise.resolve(errorAnswer(404, 'NotFoundError', request.url));
        const out = route(request);
        return Promise.resolve(isAnswer(out) ? out : answer(200, out));
      },
    },
    keeper: { client: 'browser', keep: () => Promise.resolve(), refreshRequest: () => Promise.resolve(undefined), forget: () => Promise.resolve() },
  });
  await client.login(`test-${role}`, 'a test passphrase');
  sent.length = 0; // the login is the helper's, not the page's
  return { client, sent };
}
