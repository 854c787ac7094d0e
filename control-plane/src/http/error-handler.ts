/**
 * The one place named errors become HTTP, with one body shape. A dependency that is down (see
 * isDependencyDown) answers 503 with Retry-After. Anything else unnamed is a bug: logged in full, answered
 * 500 without internals.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { SluiceError, errorResponse, isDependencyDown, isSluiceError, type ErrorBody, type ErrorName } from '@sluice/shared/errors';

/** What a client is told to wait when a dependency is down and the failing code named no time. */
const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

function body(name: ErrorName, message: string, details?: unknown): ErrorBody {
  return new SluiceError(name, message, details).toBody();
}

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isSluiceError(error)) {
    const { status, headers, body: errorBody } = errorResponse(error, { defaultRetryAfterSeconds: DEPENDENCY_RETRY_AFTER_SECONDS });
    if (status === 500) request.log.error({ err: error }, 'request failed');
    else if (status === 503) request.log.warn({ err: error.message }, 'unavailable');
    return reply.code(status).headers(headers).send(errorBody);
  }
  // A dependency that is down (PostgreSQL refusing connections) is not a bug: the client may retry.
  if (isDependencyDown(error)) {
    request.log.warn({ err: error.message }, 'unavailable: a dependency is down');
    void reply.header('retry-after', String(DEPENDENCY_RETRY_AFTER_SECONDS));
    return reply.code(503).send(body('UnavailableError', 'a dependency of this service is unavailable; retry later'));
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const details = fastifyError.validation.map((v) => ({ path: v.instancePath === '' ? '/' : v.instancePath, message: v.message ?? v.keyword }));
    return reply.code(400).send(body('InputError', `invalid ${fastifyError.validationContext ?? 'request'}: ${error.message}`, details));
  }
  const status = fastifyError.statusCode;
  if (status === 413) return reply.code(413).send(body('PayloadTooLargeError', 'request body is larger than this endpoint accepts'));
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's own client errors (bad JSON, unsupported content type): the message is safe to show.
    return reply.code(status === 404 ? 404 : 400).send(body(status === 404 ? 'NotFoundError' : 'InputError', error.message));
  }
  request.log.error({ err: error }, 'unexpected error');
  return reply.code(500).send(body('BugError', 'internal error; the server log has the details'));
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send(body('NotFoundError', `no route ${request.method} ${request.url.split('?')[0]}`));
}
