/**
 * The console's shell: connect/login until signed in (resuming an earlier login silently first), then the
 * screen the URL's hash names, under a header with the navigation, who is signed in, and log out.
 */
import { useCallback, useEffect, useState } from 'react';
import type { ApiClient, SignedIn } from '../api/client.ts';
import { AgentPage } from '../features/agent/agent-page.tsx';
import { ConnectPage } from '../features/connect/connect-page.tsx';
import { FleetPage } from '../features/fleet/fleet-page.tsx';
import { HealthPage } from '../features/health/health-page.tsx';
import { Loading } from '../ui/states.tsx';
import { ClientContext } from './client-context.ts';
import type { ConsoleEnvironment } from './environment.ts';
import { hrefOf, useRoute, type Route } from './router.ts';

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
          <a href={hrefOf.fleet()} aria-current={route.screen === 'fleet' || route.screen === 'agent' ? 'page' : undefined}>
            Fleet
          </a>
          <a href={hrefOf.health()} aria-current={route.screen === 'health' ? 'page' : undefined}>
            Pipeline health
          </a>
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
    case 'unknown':
      return (
        <p className="state state-empty">
          No screen at {route.path}. <a href={hrefOf.fleet()}>Go to the fleet</a>.
        </p>
      );
  }
}
