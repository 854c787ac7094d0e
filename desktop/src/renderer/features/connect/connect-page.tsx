/**
 * Connect and log in. In a browser the control plane is the one that served the page; in the desktop app
 * the user picks or types its address (remembered ones are offered). Errors say what to fix: the address
 * (unreachable), the certificate (TLS), the password, or the wait (locked out).
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { ApiClient, SignedIn } from '../../api/client.ts';
import type { ConsoleEnvironment } from '../../app/environment.ts';
import { describeLoginError } from '../../ui/describe-error.ts';

export interface ConnectPageProps {
  environment: ConsoleEnvironment;
  onSignedIn: (client: ApiClient, user: SignedIn) => void;
  onSessionLost: () => void;
  notice?: string | undefined;
}

export function ConnectPage({ environment, onSignedIn, onSessionLost, notice }: ConnectPageProps) {
  const [servers, setServers] = useState<string[]>([]);
  const [url, setUrl] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void environment.servers().then((list) => {
      setServers(list);
      setUrl((current) => current || (list[0] ?? ''));
    });
  }, [environment]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const client = await environment.connect(url, onSessionLost);
      const user = await client.login(username, password);
      onSignedIn(client, user);
    } catch (caught) {
      setError(describeLoginError(caught));
      setBusy(false);
    }
  }

  return (
    <main className="connect">
      <form className="connect-form" onSubmit={(e) => void submit(e)} aria-labelledby="connect-title">
        <h1 id="connect-title">Sluice console</h1>
        {notice && <p className="notice">{notice}</p>}
        {environment.kind === 'desktop' ? (
          <label>
            Control plane
            <input name="url" type="url" required list="known-servers" placeholder="https://control-plane.example.com:8080" value={url} onChange={(e) => setUrl(e.target.value)} />
            <datalist id="known-servers">
              {servers.map((s) => (
                <option key={s} value={s} />
              ))}
            </datalist>
          </label>
        ) : (
          <p className="server">
            Control plane <strong>{url}</strong>
          </p>
        )}
        <label>
          Username
          <input name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
