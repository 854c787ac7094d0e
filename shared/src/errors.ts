/**
 * The handful of named errors. Expected failures carry a name the HTTP layer maps to a status in one place
 * (control-plane/src/http/error-handler.ts); `BugError` marks what should never happen. One body shape.
 */
export type ErrorName =
  | 'InputError'
  | 'NotFoundError'
  | 'ConflictError'
  | 'UnauthorizedError'
  | 'ForbiddenError'
  | 'PayloadTooLargeError'
  | 'UnavailableError'
  | 'BugError';

export interface ErrorBody {
  error: {
    name: ErrorName;
    message: string;
    /** Where the problem is (e.g. JSON paths with reasons) when the client can act on it. */
    details?: unknown;
  };
}

export class SluiceError extends Error {
  override readonly name: ErrorName;
  readonly details: unknown;
  constructor(name: ErrorName, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
    this.details = details;
  }
  toBody(): ErrorBody {
    return { error: { name: this.name, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

const named =
  (name: ErrorName) =>
  (message: string, details?: unknown, options?: { cause?: unknown }): SluiceError =>
    new SluiceError(name, message, details, options);

export const InputError = named('InputError');
export const NotFoundError = named('NotFoundError');
export const ConflictError = named('ConflictError');
export const UnauthorizedError = named('UnauthorizedError');
export const ForbiddenError = named('ForbiddenError');
export const PayloadTooLargeError = named('PayloadTooLargeError');
/** Temporarily unable (outbox full, dependency down): retry after `details.retryAfterSeconds`. */
export const UnavailableError = named('UnavailableError');
export const BugError = named('BugError');

/** The one mapping of named errors to HTTP statuses, for every HTTP surface (control plane and agent). */
export const HTTP_STATUS: Readonly<Record<ErrorName, number>> = {
  InputError: 400,
  UnauthorizedError: 401,
  ForbiddenError: 403,
  NotFoundError: 404,
  ConflictError: 409,
  PayloadTooLargeError: 413,
  UnavailableError: 503,
  BugError: 500,
};

export function isSluiceError(err: unknown, name?: ErrorName): err is SluiceError {
  return err instanceof SluiceError && (name === undefined || err.name === name);
}
