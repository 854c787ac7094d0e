/** One sentence a person can act on, for any error the API client throws. */
import { ResponseError } from '@sluice/shared/api/response-error';
import { isConnectionError } from '../api/connection-error.ts';

export function describeError(error: unknown): string {
  if (isConnectionError(error)) {
    return error.reason === 'tls'
      ? `${error.message}. Trust its certificate authority on this machine, or check that the address is right.`
      : `${error.message}. Is the control plane running, and is the address right?`;
  }
  if (error instanceof ResponseError) {
    switch (error.name) {
      case 'UnauthorizedError':
        return 'Your login has ended; log in again.';
      case 'ForbiddenError':
        return `Your role may not do this: ${error.message}`;
      case 'NotFoundError':
        return `Not found: ${error.message}`;
      case 'UnavailableError':
        return `The control plane is temporarily unavailable (${error.message}); it is retried automatically.`;
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** The login screen's wording: wrong password and lockout are the answers a person gets most. */
export function describeLoginError(error: unknown): string {
  if (error instanceof ResponseError && error.name === 'UnauthorizedError') return 'Wrong username or password.';
  if (error instanceof ResponseError && error.name === 'TooManyRequestsError') {
    const wait = error.retryAfterSeconds;
    const when = wait === undefined ? 'later' : wait >= 120 ? `in ${String(Math.ceil(wait / 60))} minutes` : `in ${String(wait)} seconds`;
    return `Locked out after too many attempts: try again ${when}.`;
  }
  return describeError(error);
}
