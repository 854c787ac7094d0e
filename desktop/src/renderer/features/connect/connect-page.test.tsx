// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ResponseError } from '@sluice/shared/api/response-error';
import { ApiClient } from '../../api/client.ts';
import { ConnectionError } from '../../api/connection-error.ts';
import type { ConsoleEnvironment } from '../../app/environment.ts';
import { ConnectPage } from './connect-page.tsx';

afterEach(cleanup);

/** An environment whose login fails with `error` (or succeeds when none). */
function environment(kind: 'browser' | 'desktop', error?: Error): ConsoleEnvironment {
  return {
    kind,
    servers: () => Promise.resolve(['http://127.0.0.1:8080']),
    connect: () => {
      const client = new ApiClient({ baseUrl: '', transport: { send: () => Promise.reject(new Error('unused')) }, keeper: { client: 'browser', keep: () => Promise.resolve(), refreshRequest: () => Promise.resolve(undefined), forget: () => Promise.resolve() } });
      client.login = () => (error === undefined ? Promise.resolve({ username: 'alice', role: 'admin' }) : Promise.reject(error));
      return Promise.resolve(client);
    },
  };
}

async function logIn(env: ConsoleEnvironment, signedIn: string[] = []) {
  render(<ConnectPage environment={env} onSignedIn={(_c, user) => signedIn.push(user.username)} onSessionLost={() => undefined} />);
  // The remembered address fills the (required) field once the environment answered.
  await (env.kind === 'desktop' ? screen.findByDisplayValue('http://127.0.0.1:8080') : screen.findByText('http://127.0.0.1:8080', { selector: 'strong' }));
  fireEvent.change(screen.getByLabelText('Username'), { target: { value: 'alice' } });
  fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'secret' } });
  fireEvent.click(screen.getByRole('button', { name: 'Log in' }));
}

describe('connect / login', () => {
  it.each([
    [ResponseError.fromParts(401, JSON.stringify({ error: { name: 'UnauthorizedError', message: 'wrong username or password' } })), 'Wrong username or password.'],
    [ResponseError.fromParts(429, JSON.stringify({ error: { name: 'TooManyRequestsError', message: 'locked' } }), '900'), 'Locked out after too many attempts: try again in 15 minutes.'],
    [new ConnectionError('unreachable', 'http://127.0.0.1:9', 'fetch failed'), 'cannot reach http://127.0.0.1:9 (fetch failed). Is the control plane running, and is the address right?'],
    [new ConnectionError('tls', 'https://cp', 'net::ERR_CERT_AUTHORITY_INVALID'), /TLS certificate of https:\/\/cp is not trusted .*Trust its certificate authority/],
  ])('says what to fix: %s', async (error, text) => {
    await logIn(environment('desktop', error));
    expect((await screen.findByRole('alert')).textContent).toMatch(text);
    expect(screen.getByRole('button', { name: 'Log in' })).not.toHaveProperty('disabled', true);
  });

  it('offers remembered control planes in the desktop app, and shows the page own in a browser', async () => {
    render(<ConnectPage environment={environment('desktop')} onSignedIn={() => undefined} onSessionLost={() => undefined} />);
    expect(await screen.findByDisplayValue('http://127.0.0.1:8080')).toBeTruthy();
    cleanup();
    render(<ConnectPage environment={environment('browser')} onSignedIn={() => undefined} onSessionLost={() => undefined} />);
    expect((await screen.findByText('http://127.0.0.1:8080')).tagName).toBe('STRONG');
    expect(screen.queryByRole('textbox', { name: /control plane/i })).toBeNull();
  });

  it('signs in', async () => {
    const signedIn: string[] = [];
    await logIn(environment('browser'), signedIn);
    await waitFor(() => expect(signedIn).toEqual(['alice']));
  });
});
