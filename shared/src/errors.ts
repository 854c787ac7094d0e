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

/** Socket-level codes (Node) meaning the other side cannot be reached right now. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * PostgreSQL SQLSTATEs of a server that is away rather than of a bad query: class 08 (connection
 * exception), 57P01-57P03 (shutting down, cannot connect now), 53300 (too many connections).
 */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
/** node-postgres reports a lost or never-made connection in plain Errors without a code. */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * Whether an error means "a dependency (PostgreSQL, a socket peer) is down", the one classification every
 * HTTP surface uses to answer 503 with Retry-After instead of treating the failure as a bug. Structural,
 * so this file stays free of Node and driver imports.
 */
export function isDependencyDown(err: unknown, depth = 0): boolean {
  if (isSluiceError(err)) return err.name === 'UnavailableError';
  if (typeof err !== 'object' || err === null || depth > 3) return false;
  const { code, message, errors, cause } = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
  // Node's happy-eyeballs connect (localhost on IPv4 and IPv6) fails with an AggregateError of attempts.
  if (Array.isArray(errors) && errors.length > 0 && errors.every((e) => isDependencyDown(e, depth + 1))) return true;
  return cause !== undefined && isDependencyDown(cause, depth + 1);
}
