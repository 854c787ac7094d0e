/**
 * api:request: the renderer's HTTP calls, made by main with Chromium's network stack (net.fetch), only to
 * a control plane the user connected to and only under its /api/ path, never following redirects (a
 * redirect could carry the bearer token elsewhere). No answer at all is told apart as unreachable or TLS.
 */
import type { ApiNetworkFailure, ApiRequest, ApiResponse } from '../common/ipc.ts';
import { IpcInputError } from '../common/ipc.ts';
import type { Platform } from './platform.ts';

const MAX_ANSWER_CHARS = 16 * 1024 * 1024;

export async function proxyApiRequest(request: ApiRequest, allowed: (origin: string) => boolean, fetch: Platform['fetch']): Promise<ApiResponse | ApiNetworkFailure> {
  const url = new URL(request.url);
  if (!allowed(url.origin)) throw new IpcInputError(`request.url: ${url.origin} is not a control plane you connected to`);
  if (!url.pathname.startsWith('/api/')) throw new IpcInputError('request.url: only the control plane API (/api/...) may be called');
  let response: Response;
  try {
    response = await fetch(url.href, { method: request.method, headers: request.headers, body: request.body, redirect: 'error' });
  } catch (error) {
    return networkFailure(error);
  }
  const body = await response.text();
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return { kind: 'response', status: response.status, statusText: response.statusText, headers, body: body.length > MAX_ANSWER_CHARS ? '' : body };
}

/** Chromium (net::ERR_CERT_…) and Node (CERT_…, ERR_TLS_…) name certificate trouble differently. */
const TLS_TROUBLE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i;

export function networkFailure(error: unknown): ApiNetworkFailure {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const text = [error instanceof Error ? error.message : String(error), typeof cause?.code === 'string' ? cause.code : '', typeof cause?.message === 'string' ? cause.message : '']
    .filter((s) => s !== '')
    .join(': ');
  return TLS_TROUBLE.test(text) ? { kind: 'network-failure', reason: 'tls', message: text } : { kind: 'network-failure', reason: 'unreachable', message: text };
}
