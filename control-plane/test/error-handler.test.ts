import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { BugError, ConflictError, ForbiddenError, InputError, NotFoundError, PayloadTooLargeError, UnauthorizedError, UnavailableError } from '@sluice/shared/errors';
import { errorHandler, notFoundHandler } from '../src/http/error-handler.ts';

async function app() {
  const server = Fastify({ logger: false });
  server.setErrorHandler(errorHandler);
  server.setNotFoundHandler(notFoundHandler);
  const errors: Record<string, () => Error> = {
    input: () => InputError('bad', [{ path: '/a', message: 'must be number' }]),
    unauthorized: () => UnauthorizedError('who'),
    forbidden: () => ForbiddenError('no'),
    notfound: () => NotFoundError('gone'),
    conflict: () => ConflictError('clash', { compatible: false }),
    toolarge: () => PayloadTooLargeError('big'),
    unavailable: () => UnavailableError('later', { retryAfterSeconds: 7 }),
    bug: () => BugError('should not happen'),
    plain: () => new Error('connection string postgres://secret@db leaked?'),
    pgdown: () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:55432'), { code: 'ECONNREFUSED' }),
  };
  server.get('/:kind', (request) => {
    throw errors[(request.params as { kind: string }).kind]!();
  });
  server.post('/validated', { schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'number' } } } } }, () => ({ ok: true }));
  await server.ready();
  return server;
}

describe('errorHandler', () => {
  it('maps each named error to its status with one body shape', async () => {
    const server = await app();
    const expected: Array<[string, number, string]> = [
      ['input', 400, 'InputError'],
      ['unauthorized', 401, 'UnauthorizedError'],
      ['forbidden', 403, 'ForbiddenError'],
      ['notfound', 404, 'NotFoundError'],
      ['conflict', 409, 'ConflictError'],
      ['toolarge', 413, 'PayloadTooLargeError'],
      ['unavailable', 503, 'UnavailableError'],
      ['bug', 500, 'BugError'],
    ];
    for (const [kind, status, name] of expected) {
      const res = await server.inject({ method: 'GET', url: `/${kind}` });
      expect(res.statusCode, kind).toBe(status);
      expect(res.json<{ error: { name: string } }>().error.name).toBe(name);
    }
    const unavailable = await server.inject({ method: 'GET', url: '/unavailable' });
    expect(unavailable.headers['retry-after']).toBe('7');
    expect((await server.inject({ method: 'GET', url: '/unauthorized' })).headers['www-authenticate']).toBe('Bearer');
    await server.close();
  });

  it('answers a dependency that is down 503 with Retry-After, not 500, and without its address', async () => {
    const server = await app();
    const res = await server.inject({ method: 'GET', url: '/pgdown' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json<{ error: { name: string } }>().error.name).toBe('UnavailableError');
    expect(res.body).not.toContain('55432');
    await server.close();
  });

  it('answers an unnamed error 500 without its message, and validation failures 400 with paths', async () => {
    const server = await app();
    const plain = await server.inject({ method: 'GET', url: '/plain' });
    expect(plain.statusCode).toBe(500);
    expect(plain.body).not.toContain('secret');
    expect(plain.json()).toEqual({ error: { name: 'BugError', message: 'internal error; the server log has the details' } });
    const invalid = await server.inject({ method: 'POST', url: '/validated', payload: { n: 'x' } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ error: { name: 'InputError', details: [{ path: '/n', message: 'must be number' }] } });
    const badJson = await server.inject({ method: 'POST', url: '/validated', payload: '{nope', headers: { 'content-type': 'application/json' } });
    expect(badJson.statusCode).toBe(400);
    expect((await server.inject({ method: 'GET', url: '/a/b/c' })).json()).toMatchObject({ error: { name: 'NotFoundError' } });
    await server.close();
  });
});
