/**
 * What a sink or exporter returns instead of throwing for expected failures
 * (model: OpenTelemetry's ExportResult). `retryable` is a known outage (refused connection, 5xx, timeout)
 * and may say when to try again; `failed` is known to be permanent; `unclassified` is an error nobody
 * recognised: worth a few more tries, but not forever, since it may never go away.
 */
export type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retryable'; readonly reason: string; readonly afterMs?: number }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'unclassified'; readonly reason: string };

export const ok: Outcome = { kind: 'ok' };
export const retryable = (reason: string, afterMs?: number): Outcome =>
  afterMs === undefined ? { kind: 'retryable', reason } : { kind: 'retryable', reason, afterMs };
export const failed = (reason: string): Outcome => ({ kind: 'failed', reason });
export const unclassified = (reason: string): Outcome => ({ kind: 'unclassified', reason });
