/**
 * How the API client's requests leave the page: in a browser (the console served at /console) with the
 * page's own fetch, same origin, so the refresh cookie goes along; in the desktop app through the preload
 * bridge, which has main make the call (common/ipc.ts). Both answer the same two shapes.
 */
import type { ApiNetworkFailure, ApiRequest, ApiResponse, ConsoleBridge } from '../../common/ipc.ts';

export interface Transport {
  send(request: ApiRequest): Promise<ApiResponse | ApiNetworkFailure>;
}

export function browserTransport(fetchImpl: typeof fetch = (input, init) => fetch(input, init)): Transport {
  return {
    async send(request) {
      let response: Response;
      try {
        response = await fetchImpl(request.url, { method: request.method, headers: request.headers, body: request.body ?? null, credentials: 'same-origin', redirect: 'error' });
      } catch (error) {
        // A browser does not say why (refused, DNS, an untrusted certificate): all look alike to the page.
        return { kind: 'network-failure', reason: 'unreachable', message: error instanceof Error ? error.message : String(error) };
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      return { kind: 'response', status: response.status, statusText: response.statusText, headers, body: await response.text() };
    },
  };
}

export function bridgeTransport(bridge: ConsoleBridge): Transport {
  return { send: (request) => bridge.api.request(request) };
}
