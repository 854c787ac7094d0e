/**
 * The console's shell: connect/login until signed in (resuming an earlier login silently first), then the
 * screen the URL's hash names, under a header with the navigation, who is signed in, and log out.
 */
import { useCallback, useEffect, useState } from 'react';
import type { ApiClient, SignedIn } from '../api/client.ts';
import { AgentPage } from '../features/agent/agent-page.tsx';
import { AnalyticsPage } from '../features/analytics/analytics-page.tsx';
import { AuditPage } from '../features/audit/audit-page.tsx';
import { ConnectPage } from '../features/connect/connect-page.tsx';
import { DatasetPage } from '../features/datasets/dataset-page.tsx';
import { DatasetsPage } from '../features/datasets/datasets-page.tsx';
import { DlqEntryPage } from '../features/dlq/dlq-entry-page.tsx';
import { DlqPage } from '../features/dlq/dlq-page.tsx';
import { FleetPage } from '../features/fleet/fleet-page.tsx';
import { HealthPage } from '../features/health/health-page.tsx';
import { LedgerPage } from '../features/ledger/ledger-page.tsx';
import { PoliciesPage } from '../features/policies/policies-page.tsx';
import { PolicyPage } from '../features/policies/policy-page.tsx';
import { Loading } from '../ui/states.tsx';
import { ClientContext } from './client-context.ts';
import type { ConsoleEnvironment } from './environment.ts';
import { hrefOf, useRoute, type Route } from './router.ts';

/** The header's links: which screens each lights up, and the role a link needs (the API enforces it too). */
const NAV: ReadonlyArray<{ label: string; href: string; screens: ReadonlyArray<Route['screen']>; admin?: true }> = [
  { label: 'Fleet', href: hrefOf.fleet(), screens: ['fleet', 'agent'] },
  { label: 'Policies', href: hrefOf.policies(), screens: ['policies', 'policy'] },
  { label: 'Datasets', href: hrefOf.datasets(), screens: ['datasets', 'dataset'] },
  { label: 'Pipeline health', href: hrefOf.health(), screens: ['health'] },
  { label: 'Analytics', href: hrefOf.analytics(), screens: ['analytics'] },
  { label: 'Ledger', href: hrefOf.ledger(), screens: ['ledger'] },
  { label: 'DLQ', href: hrefOf.dlq(), screens: ['dlq', 'dlq-entry'] },
  { label: 'Audit', href: hrefOf.audit(), screens: ['audit'], admin: true },
];

type Session = { state: 'resuming' } | { state: 'signed-out'; notice?: string } | { state: 'signed-in'; client: ApiClient; user: SignedIn };

export function App({ environment }: { environment: ConsoleEnvironment }) {
  const [session, setSession] = useState<Session>({ state: 'resuming' });
  const route = useRoute();
  const lost = useCallback(() => setSession({ state: 'signed-out', notice: 'Your login has ended; log in again.' }), []);

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      const [server] = await environment.servers();
      if (server === undefined) return setSession({ state: 'signed-out' });
      const client = await environment.connect(server, lost);
      const user = await client.resume().catch(() => undefined);
      if (!cancelled) setSession(user ? { state: 'signed-in', client, user } : { state: 'signed-out' });
    })();
    return () => {
      cancelled = true;
    };
  }, [environment, lost]);

  if (session.state === 'resuming') return <Loading what="the console" />;
  if (session.state === 'signed-out') {
    return <ConnectPage environment={environment} notice={session.notice} onSessionLost={lost} onSignedIn={(client, user) => setSession({ state: 'signed-in', client, user })} />;
  }
  const { client, user } = session;
  return (
    <ClientContext.Provider value={client}>
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <header className="app-header">
        <span className="brand">Sluice</span>
        <nav aria-label="Screens">
          {NAV.filter((link) => !link.admin || user.role === 'admin').map((link) => (
            <a key={link.href} href={link.href} aria-current={link.screens.includes(route.screen) ? 'page' : undefined}>
              {link.label}
            </a>
          ))}
        </nav>
        <span className="who">
          {user.username} ({user.role}) {client.baseUrl && <span className="sub">{client.baseUrl}</span>}
        </span>
        <button type="button" onClick={() => void client.logout().then(() => setSession({ state: 'signed-out' }))}>
          Log out
        </button>
      </header>
      <main id="content" tabIndex={-1}>
        <Screen route={route} />
      </main>
    </ClientContext.Provider>
  );
}

function Screen({ route }: { route: Route }) {
  switch (route.screen) {
    case 'fleet':
      return <FleetPage />;
    case 'agent':
      return <AgentPage agentId={route.agentId} />;
    case 'health':
      return <HealthPage />;
    case 'policies':
      return <PoliciesPage />;
    case 'policy':
      return <PolicyPage name={route.name} />;
    case 'datasets':
      return <DatasetsPage />;
    case 'dataset':
      return <DatasetPage name={route.name} />;
    case 'ledger':
      return <LedgerPage />;
    case 'dlq':
      return <DlqPage />;
    case 'dlq-entry':
      return <DlqEntryPage id={route.id} />;
    case 'audit':
      return <AuditPage />;
    case 'analytics':
      return <AnalyticsPage dataset={route.dataset} />;
    case 'unknown':
      return (
        <p className="state state-empty">
          No screen at {route.path}. <a href={hrefOf.fleet()}>Go to the fleet</a>.
        </p>
      );
  }
}
