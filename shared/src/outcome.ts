/**
 * What a sink or exporter returns instead of throwing for expected failures
 * (model: OpenTelemetry's ExportResult). `retryable` may say when to try again.
 */
export type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retryable'; readonly reason: string; readonly afterMs?: number }
  | { readonly kind: 'failed'; readonly reason: string };

export const ok: Outcome = { kind: 'ok' };
export const retryable = (reason: string, afterMs?: number): Outcome =>
  afterMs === undefined ? { kind: 'retryable', reason } : { kind: 'retryable', reason, afterMs };
export const failed = (reason: string): Outcome => ({ kind: 'failed', reason });
