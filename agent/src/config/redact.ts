/**
 * The one redaction function for anything the agent prints (status, validate, logs of the config): a value
 * under a secret-looking key is replaced whole, so a nested `auth.apiKey.value` or a header is covered too.
 */
const SECRET_KEY = /token|password|passwd|secret|api[-_]?key|authorization|credential|cookie/i;

export const REDACTED = '[redacted]';

export function redact<T>(value: T): T {
  return redactValue(value) as T;
}

function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && inner !== undefined && inner !== null ? REDACTED : redactValue(inner);
  }
  return out;
}
