/**
 * Control bodies (dataset specs, policies, users) are parsed by fastify's own JSON parser, behind a nesting
 * limit checked on the text first: deeply nested JSON costs nothing to send and makes every later recursive
 * walk (ajv, canonical JSON, diffs) slow or overflow the stack. Ingest has its own parser and record guard.
 */
import type { FastifyInstance } from 'fastify';
import { InputError } from '@sluice/shared/errors';
import { jsonTextDepth } from '@sluice/shared/record-guard';

/** Deep enough for any dataset JSON Schema or policy a person writes; far from what hurts a parser. */
export const MAX_CONTROL_BODY_DEPTH = 64;

export function addJsonDepthLimit(app: FastifyInstance, maxDepth = MAX_CONTROL_BODY_DEPTH): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    const body = raw as string;
    if (jsonTextDepth(body, maxDepth) > maxDepth) {
      done(InputError(`/: body is nested more than ${maxDepth} levels deep`), undefined);
      return;
    }
    void parse(request, body, done);
  });
}
