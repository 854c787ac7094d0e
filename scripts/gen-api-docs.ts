// `npm run docs:api`: writes docs/api-routes.md from the control plane's route table.
import { writeFileSync } from 'node:fs';
import { routeTable } from '../control-plane/src/http/server.ts';
import { buildDocsServer } from './api-docs/docs-server.ts';
import { renderApiRoutes } from './api-docs/render-api-routes.ts';

const server = await buildDocsServer();
try {
  const target = new URL('../docs/api-routes.md', import.meta.url);
  writeFileSync(target, renderApiRoutes(routeTable(server.app)));
  console.log(`wrote ${target.pathname}`);
} finally {
  await server.close();
}
