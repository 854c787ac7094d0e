import { describe, expect, it } from 'vitest';
import { ResponseError, nameForStatus } from '../src/api/response-error.ts';
import {
  BugError,
  ConflictError,
  ERROR_NAMES,
  HTTP_STATUS,
  InputError,
  SluiceError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  errorResponse,
  isSluiceError,
} from '../src/errors.ts';

/** What a client receives for a named error thrown on a server: the rendering every server uses. */
function answered(error: SluiceError, options?: { defaultRetryAfterSeconds?: number }): Response {
  const { status, headers, body } = errorResponse(error, options);
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

describe('errorResponse', () => {
  it('maps every name to its status and renders the one body', () => {
    for (const name of ERROR_NAMES) {
      const { status, body } = errorResponse(new SluiceError(name, 'why', { at: 'x' }));
      expect(status).toBe(HTTP_STATUS[name]);
      expect(body).toEqual({ error: { name, message: 'why', details: { at: 'x' } } });
    }
    expect(errorResponse(TooManyRequestsError('slow down')).status).toBe(429);
  });

  it('says when to come back on 429 and 503 (whole seconds, at least 1) and challenges on 401', () => {
    expect(errorResponse(TooManyRequestsError('full', { retryAfterSeconds: 1 })).headers).toEqual({ 'retry-after': '1' });
    expect(errorResponse(UnavailableError('down', { retryAfterSeconds: 0.2 })).headers).toEqual({ 'retry-after': '1' });
    expect(errorResponse(UnavailableError('down', { retryAfterSeconds: 2.5 })).headers).toEqual({ 'retry-after': '3' });
    expect(errorResponse(UnavailableError('down')).headers).toEqual({});
    expect(errorResponse(UnavailableError('down'), { defaultRetryAfterSeconds: 5 }).headers).toEqual({ 'retry-after': '5' });
    expect(errorResponse(InputError('bad', { retryAfterSeconds: 5 })).headers).toEqual({});
    expect(errorResponse(UnauthorizedError('who?')).headers).toEqual({ 'www-authenticate': 'Bearer' });
  });
});

describe('ResponseError', () => {
  it('turns every named error body back into the named error, status and details included', async () => {
    for (const name of ERROR_NAMES) {
      const sent = new SluiceError(name, `a ${name}`, { path: '/a', reason: 'why' });
      const error = await ResponseError.fromResponse(answered(sent));
      expect(error).toBeInstanceOf(ResponseError);
      expect(isSluiceError(error, name)).toBe(true);
      expect([error.status, error.message, error.details]).toEqual([HTTP_STATUS[name], `a ${name}`, { path: '/a', reason: 'why' }]);
      expect(error.toBody()).toEqual(sent.toBody());
      expect(error.body).toEqual(sent.toBody());
    }
  });

  it('reads Retry-After as seconds or an HTTP date, else from the body', async () => {
    expect((await ResponseError.fromResponse(answered(TooManyRequestsError('full', { retryAfterSeconds: 1 })))).retryAfterSeconds).toBe(1);
    expect((await ResponseError.fromResponse(answered(UnavailableError('down'), { defaultRetryAfterSeconds: 5 }))).retryAfterSeconds).toBe(5);
    const now = Date.parse('2026-12-02T10:00:00Z');
    const dated = new Response('', { status: 503, headers: { 'retry-after': 'Wed, 02 Dec 2026 10:00:30 GMT' } });
    expect((await ResponseError.fromResponse(dated, () => now)).retryAfterSeconds).toBe(30);
    const bodyOnly = ResponseError.fromParts(503, JSON.stringify(UnavailableError('down', { retryAfterSeconds: 7 }).toBody()));
    expect(bodyOnly.retryAfterSeconds).toBe(7);
    expect(ResponseError.fromParts(409, JSON.stringify(ConflictError('again').toBody())).retryAfterSeconds).toBeUndefined();
  });

  it('names an answer that is not our body by its status', async () => {
    const proxy = await ResponseError.fromResponse(new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    expect([proxy.name, proxy.status, proxy.message, proxy.body]).toEqual(['UnavailableError', 502, 'HTTP 502 Bad Gateway', undefined]);
    expect(ResponseError.fromParts(404, 'not found').name).toBe('NotFoundError');
    // A body with a name we do not know is not ours either.
    expect(ResponseError.fromParts(418, JSON.stringify({ error: { name: 'TeapotError', message: 'short and stout' } })).name).toBe('InputError');
    expect(ResponseError.fromParts(500, JSON.stringify(BugError('internal error').toBody())).message).toBe('internal error');
    expect([nameForStatus(401), nameForStatus(405), nameForStatus(429), nameForStatus(504), nameForStatus(507)]).toEqual([
      'UnauthorizedError',
      'MethodNotAllowedError',
      'TooManyRequestsError',
      'UnavailableError',
      'BugError',
    ]);
  });

  it('does not throw when the body cannot be read', async () => {
    const broken = { status: 503, headers: new Headers(), text: () => Promise.reject(new Error('socket hang up')) };
    expect((await ResponseError.fromResponse(broken)).name).toBe('UnavailableError');
  });
});
