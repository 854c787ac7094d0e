import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTable } from '../../control-plane/src/http/server.ts';
import { buildDocsServer } from '../api-docs/docs-server.ts';
import { renderApiRoutes, type ApiRoute } from '../api-docs/render-api-routes.ts';

// docs/api-routes.md is generated from the server's route table; a route added, removed or re-authorised
// without `npm run docs:api` leaves the reference describing an API the control plane no longer has.
let server: Awaited<ReturnType<typeof buildDocsServer>>;
let routes: ApiRoute[];

beforeAll(async () => {
  server = await buildDocsServer();
  routes = routeTable(server.app);
});

afterAll(async () => {
  await server?.close();
});

describe('REST API route reference', () => {
  it('docs/api-routes.md is what `npm run docs:api` generates from the route table', () => {
    const committed = readFileSync(new URL('../../docs/api-routes.md', import.meta.url), 'utf8');
    expect(committed === renderApiRoutes(routes), 'docs/api-routes.md is stale: run `npm run docs:api`').toBe(true);
  });

  it('lists every route with its auth, parameters, body and success response', () => {
    const page = renderApiRoutes(routes);
    for (const route of routes.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')) {
      expect(page).toContain(`| \`${route.method} ${route.url.replace(/:([A-Za-z_]+)/g, '{$1}')}\` | ${route.auth ?? 'none'} |`);
    }
    expect(page).toContain('| `POST /api/v1/agent/checkin` | agent |');
    expect(page).toContain('| `PATCH /api/v1/policies/{name}` | operator |');
    expect(page).toContain('| body | `description`: string, `selector`: object, `priority`: integer |');
    expect(page).toContain('| 201 response | `agentId`*: string, `credential`*: string |');
  });

  it('every API route has a summary', () => {
    const missing = routes.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS' && r.url.startsWith('/api/') && !r.schema?.summary).map((r) => `${r.method} ${r.url}`);
    expect(missing).toEqual([]);
  });
});
