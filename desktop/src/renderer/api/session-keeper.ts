/**
 * Where the login's refresh credential lives between calls, per kind of client (docs: "Browsers" in the
 * operators guide):
 * - browser (the console at /console): the refresh token is an HttpOnly cookie the page never sees; the page
 *   keeps only the CSRF token that must accompany it, in sessionStorage, so a reload of the tab refreshes
 *   silently and closing the tab ends it.
 * - desktop: the refresh token comes in the body (`client: 'token'`) and is handed to main, which keeps it
 *   encrypted with the OS keychain (main/token-store.ts); the page holds it only in memory.
 */
import { CSRF_HEADER, type SessionResponse } from '@sluice/shared/api/auth';
import type { ConsoleBridge } from '../../common/ipc.ts';

export interface RefreshRequest {
  headers: Record<string, string>;
  body: string | undefined;
}

export interface SessionKeeper {
  readonly client: 'browser' | 'token';
  /** After login and every refresh: keep what the next refresh needs. */
  keep(session: SessionResponse): Promise<void>;
  /** What a refresh (or logout) sends, or undefined when there is nothing to refresh with. */
  refreshRequest(): Promise<RefreshRequest | undefined>;
  forget(): Promise<void>;
}

const CSRF_KEY = 'sluice.csrf';

export function browserKeeper(storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>): SessionKeeper {
  return {
    client: 'browser',
    keep(session) {
      if (session.csrfToken !== undefined) storage.setItem(CSRF_KEY, session.csrfToken);
      return Promise.resolve();
    },
    refreshRequest() {
      const csrf = storage.getItem(CSRF_KEY);
      return Promise.resolve(csrf === null ? undefined : { headers: { [CSRF_HEADER]: csrf }, body: undefined });
    },
    forget() {
      storage.removeItem(CSRF_KEY);
      return Promise.resolve();
    },
  };
}

export function desktopKeeper(bridge: ConsoleBridge, server: string): SessionKeeper {
  let refreshToken: string | null | undefined;
  return {
    client: 'token',
    async keep(session) {
      if (session.refreshToken === undefined) return;
      refreshToken = session.refreshToken;
      await bridge.tokens.save(server, session.refreshToken);
    },
    async refreshRequest() {
      refreshToken ??= await bridge.tokens.load(server);
      return refreshToken === null ? undefined : { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) };
    },
    async forget() {
      refreshToken = null;
      await bridge.tokens.clear(server);
    },
  };
}
