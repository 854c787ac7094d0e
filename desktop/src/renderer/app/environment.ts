/**
 * Where the renderer runs decides how it reaches the control plane: served at /console by the control plane
 * (a browser: same origin, cookie login) or inside the desktop app (the preload bridge: main makes the calls,
 * the refresh token is kept with the OS keychain). Everything else in the renderer is the same.
 */
import { BRIDGE_GLOBAL, controlPlaneOrigin, type ConsoleBridge } from '../../common/ipc.ts';
import { ApiClient } from '../api/client.ts';
import { browserKeeper, desktopKeeper } from '../api/session-keeper.ts';
import { bridgeTransport, browserTransport } from '../api/transport.ts';

export interface ConsoleEnvironment {
  kind: 'browser' | 'desktop';
  /** The control planes offered on the connect screen (the browser has exactly its own). */
  servers(): Promise<string[]>;
  /**
   * The client for `url` (checked and remembered in the desktop app): one per control plane, so two screens
   * (or an effect run twice) never refresh one login with two clients, which the server takes for token reuse.
   */
  connect(url: string, onSessionLost: () => void): Promise<ApiClient>;
}

function onePerServer(make: (origin: string, onSessionLost: () => void) => ApiClient): (origin: string, onSessionLost: () => void) => ApiClient {
  const clients = new Map<string, ApiClient>();
  let lostListener: () => void = () => undefined;
  return (origin, onSessionLost) => {
    lostListener = onSessionLost;
    let client = clients.get(origin);
    if (client === undefined) {
      client = make(origin, () => lostListener());
      clients.set(origin, client);
    }
    return client;
  };
}

export function browserEnvironment(location: Pick<Location, 'origin'>, storage: Storage): ConsoleEnvironment {
  const client = onePerServer((_origin, onSessionLost) => new ApiClient({ baseUrl: '', transport: browserTransport(), keeper: browserKeeper(storage), onSessionLost }));
  return {
    kind: 'browser',
    servers: () => Promise.resolve([location.origin]),
    connect: (_url, onSessionLost) => Promise.resolve(client(location.origin, onSessionLost)),
  };
}

export function desktopEnvironment(bridge: ConsoleBridge): ConsoleEnvironment {
  const client = onePerServer((origin, onSessionLost) => new ApiClient({ baseUrl: origin, transport: bridgeTransport(bridge), keeper: desktopKeeper(bridge, origin), onSessionLost }));
  return {
    kind: 'desktop',
    servers: () => bridge.servers.list(),
    async connect(url, onSessionLost) {
      const origin = controlPlaneOrigin(url);
      await bridge.servers.remember(origin);
      return client(origin, onSessionLost);
    },
  };
}

export function detectEnvironment(): ConsoleEnvironment {
  const bridge = (globalThis as Record<string, unknown>)[BRIDGE_GLOBAL] as ConsoleBridge | undefined;
  return bridge === undefined ? browserEnvironment(window.location, window.sessionStorage) : desktopEnvironment(bridge);
}
