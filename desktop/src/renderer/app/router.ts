/**
 * Screens are addressed by the URL's hash (`#/fleet`, `#/agents/gw-1-a1b2c3`): the same build works under
 * /console/ on the control plane and on the desktop app's own scheme, with no server-side routes.
 */
import { useEffect, useState } from 'react';

export type Route = { screen: 'fleet' } | { screen: 'health' } | { screen: 'agent'; agentId: string } | { screen: 'unknown'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/fleet';
  if (path === '/' || path === '/fleet') return { screen: 'fleet' };
  if (path === '/health') return { screen: 'health' };
  const agent = /^\/agents\/([^/]+)$/.exec(path);
  if (agent?.[1] !== undefined) return { screen: 'agent', agentId: decodeURIComponent(agent[1]) };
  return { screen: 'unknown', path };
}

export const hrefOf = {
  fleet: () => '#/fleet',
  health: () => '#/health',
  agent: (agentId: string) => `#/agents/${encodeURIComponent(agentId)}`,
};

export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return parseRoute(hash);
}
