/**
 * The operator console's static files at /console (the renderer build, desktop/dist/renderer). Only these
 * files are public: they carry no data, and every data call the console makes goes to /api/v1 with the
 * login. Each answer carries the console's strict CSP (own scripts and styles only, connections only to
 * this control plane). Paths are confined to the build folder; folders are never listed; a missing build
 * answers 404 saying how to make it.
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { CONSOLE_PATH, CONSOLE_SECURITY_HEADERS, consoleContentSecurityPolicy } from '@sluice/shared/api/console';
import { NotFoundError } from '@sluice/shared/errors';
import { hasStaticBuild, lookupStaticFile } from '@sluice/shared/node/static-files';

/** Where `npm run build:console` puts the build, from this file in a checkout. */
export const DEFAULT_CONSOLE_DIR = resolve(import.meta.dirname, '../../../../desktop/dist/renderer');

const CSP = consoleContentSecurityPolicy("'self'");

export function consoleRoutes(consoleDir: string = DEFAULT_CONSOLE_DIR): FastifyPluginAsync {
  async function send(reply: FastifyReply, requestPath: string) {
    void reply.headers({ 'content-security-policy': CSP, ...CONSOLE_SECURITY_HEADERS });
    const found = await lookupStaticFile(consoleDir, requestPath);
    if (found.kind === 'file') {
      return reply.headers({ 'content-type': found.contentType, 'content-length': String(found.size), 'cache-control': found.cacheControl }).send(createReadStream(found.path));
    }
    if (!(await hasStaticBuild(consoleDir))) {
      throw NotFoundError(`the console is not built (no ${consoleDir}/index.html): run \`npm run build:console\` and reload`);
    }
    throw NotFoundError(found.kind === 'refused' ? `no console file ${requestPath}: ${found.reason}` : `no console file ${requestPath}`);
  }

  return async (app) => {
    const schema = { tags: ['console'], security: [], hide: true };
    // The app's relative asset paths need the trailing slash.
    app.get(CONSOLE_PATH, { config: { auth: 'public' }, schema }, (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 308));
    app.get<{ Params: { '*': string } }>(`${CONSOLE_PATH}/*`, { config: { auth: 'public' }, schema }, (request, reply) => send(reply, request.params['*']));
    await Promise.resolve();
  };
}
