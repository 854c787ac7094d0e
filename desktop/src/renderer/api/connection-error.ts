/**
 * No HTTP answer at all, as opposed to an error answer (ResponseError): the control plane is unreachable,
 * or (desktop app only, where main can tell) its TLS certificate is not trusted.
 */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  readonly reason: 'unreachable' | 'tls';
  readonly url: string;
  constructor(reason: 'unreachable' | 'tls', url: string, detail: string) {
    super(reason === 'tls' ? `the TLS certificate of ${url} is not trusted (${detail})` : `cannot reach ${url} (${detail})`);
    this.reason = reason;
    this.url = url;
  }
}

export function isConnectionError(error: unknown): error is ConnectionError {
  return error instanceof ConnectionError;
}
