/**
 * HTTP for the job kinds that read from the web (`urls`, `rest`): a fetch whose network errors, 5xx and 429
 * are `RetryableError`s (with Retry-After), and a body read with a size limit.
 */
import { RetryableError, parseRetryAfter } from '@sluice/shared/node/retry';

/** Fetches `url`; answers any response but a retryable one, which it throws (its body discarded). */
export async function fetchOrRetry(url: string, init: RequestInit, signal: AbortSignal, timeoutMs: number): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]), redirect: 'follow' });
  } catch (error) {
    signal.throwIfAborted();
    throw new RetryableError(`${url}: ${(error as Error).message}`, { cause: error });
  }
  if (response.status >= 500 || response.status === 429) {
    await response.body?.cancel();
    throw new RetryableError(`${url} answered ${response.status}`, { retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) });
  }
  return response;
}

/** The whole body, refused past `maxBytes` (declared or read). */
export async function readBody(response: Response, url: string, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) throw new Error(`${url} is ${declared} bytes, more than ${maxBytes}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > maxBytes) throw new Error(`${url} is more than ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
