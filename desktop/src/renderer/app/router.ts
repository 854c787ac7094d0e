/**
 * Screens are addressed by the URL's hash (`#/fleet`, `#/agents/gw-1-a1b2c3`): the same build works under
 * /console/ on the control plane and on the desktop app's own scheme, with no server-side routes.
 */
import { useEffect, useState } from 'react';

export type Route =
  | { screen: 'fleet' }
  | { screen: 'health' }
  | { screen: 'agent'; agentId: string }
  | { screen: 'policies' }
  | { screen: 'policy'; name: string }
  | { screen: 'datasets' }
  | { screen: 'dataset'; name: string }
  | { screen: 'ledger' }
  | { screen: 'dlq' }
  | { screen: 'dlq-entry'; id: string }
  | { screen: 'audit' }
  | { screen: 'analytics'; dataset?: string }
  | { screen: 'unknown'; path: string };

/** Screens without a parameter, by path. */
const FIXED: Record<string, Route> = {
  '/': { screen: 'fleet' },
  '/fleet': { screen: 'fleet' },
  '/health': { screen: 'health' },
  '/policies': { screen: 'policies' },
  '/datasets': { screen: 'datasets' },
  '/ledger': { screen: 'ledger' },
  '/dlq': { screen: 'dlq' },
  '/audit': { screen: 'audit' },
  '/analytics': { screen: 'analytics' },
};

/** Screens of one thing, by the path's first segment; the second is the thing's (URI-encoded) name. */
const ONE_OF: Record<string, (name: string) => Route> = {
  agents: (agentId) => ({ screen: 'agent', agentId }),
  policies: (name) => ({ screen: 'policy', name }),
  datasets: (name) => ({ screen: 'dataset', name }),
  dlq: (id) => ({ screen: 'dlq-entry', id }),
  analytics: (dataset) => ({ screen: 'analytics', dataset }),
};

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/fleet';
  const fixed = FIXED[path];
  if (fixed) return fixed;
  const one = /^\/([a-z]+)\/([^/]+)$/.exec(path);
  const make = one ? ONE_OF[one[1]!] : undefined;
  if (one && make) {
    try {
      return make(decodeURIComponent(one[2]!));
    } catch {
      // A malformed %-escape names nothing.
    }
  }
  return { screen: 'unknown', path };
}

export const hrefOf = {
  fleet: () => '#/fleet',
  health: () => '#/health',
  agent: (agentId: string) => `#/agents/${encodeURIComponent(agentId)}`,
  policies: () => '#/policies',
  policy: (name: string) => `#/policies/${encodeURIComponent(name)}`,
  datasets: () => '#/datasets',
  dataset: (name: string) => `#/datasets/${encodeURIComponent(name)}`,
  ledger: () => '#/ledger',
  dlq: () => '#/dlq',
  dlqEntry: (id: string) => `#/dlq/${encodeURIComponent(id)}`,
  audit: () => '#/audit',
  analytics: (dataset?: string) => (dataset === undefined ? '#/analytics' : `#/analytics/${encodeURIComponent(dataset)}`),
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
