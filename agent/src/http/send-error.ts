import type { ServerResponse } from 'node:http';
import { BugError, errorResponse, isSluiceError } from '@sluice/shared/errors';

/**
 * The agent's one error answer (its HTTP server and the sources that own a route): status, headers and
 * body from shared/src/errors.ts, as the control plane answers. What is not a named error is a bug and is
 * answered 500 without its internals (the caller logs it).
 *
 * `closeConnection` is for answers given before the request body was read (refused credentials, a body
 * over the limit): the connection is closed rather than reading what was refused.
 */
export function sendError(res: ServerResponse, error: unknown, options: { closeConnection?: boolean } = {}): void {
  if (res.headersSent) return;
  const { status, headers, body } = errorResponse(isSluiceError(error) ? error : BugError('internal error'));
  res.writeHead(status, { 'content-type': 'application/json', ...headers, ...(options.closeConnection === true ? { connection: 'close' } : {}) });
  res.end(JSON.stringify(body));
}
