/**
 * What a PostgreSQL error means for a sink write: an outage to wait out, a single bad row to isolate, or
 * something a retry will not fix. SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export type PgErrorKind = 'retryable' | 'data' | 'fatal';

const RETRYABLE_STATES = new Set(['57P01', '57P02', '57P03', '40001', '40P01', '55P03']);
const RETRYABLE_CLASSES = new Set(['08', '53', '58']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ENETUNREACH']);
// node-postgres reports a lost or refused connection with a bare message and no code.
const NETWORK_MESSAGES = /connection terminated|timeout exceeded when trying to connect|connection error|connection timeout|not queryable|Connection ended/i;

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function classifyPgError(error: unknown): PgErrorKind {
  const state = sqlState(error);
  if (state !== undefined) {
    if (RETRYABLE_STATES.has(state) || RETRYABLE_CLASSES.has(state.slice(0, 2))) return 'retryable';
    // 22: data exception (bad value for a type); 23: integrity constraint (NOT NULL...). ON CONFLICT covers 23505.
    if (state.startsWith('22') || state.startsWith('23')) return 'data';
    return 'fatal';
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'retryable';
  const message = error instanceof Error ? error.message : String(error);
  return NETWORK_MESSAGES.test(message) ? 'retryable' : 'fatal';
}

export function describePgError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const state = sqlState(error);
  return state === undefined ? message : `${message} (SQLSTATE ${state})`;
}
