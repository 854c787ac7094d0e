import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IPC_CHANNELS, parseArgument } from '../common/ipc.ts';
import { createBridge } from '../preload/bridge.ts';
import { networkFailure } from './api-proxy.ts';
import { runConsoleApp } from './console-app.ts';
import { ipcHandler, registerIpc, type IpcServices } from './ipc-handlers.ts';
import type { IpcHandler, IpcSender, Platform, WindowSpec } from './platform.ts';
import { ServerList } from './server-list.ts';
import { TokenStore } from './token-store.ts';
import { APP_URL } from './window-options.ts';

const app: IpcSender = { url: APP_URL, isMainFrame: true };
let dir: string;
let calls: Array<{ url: string; init: unknown }>;
let services: IpcServices;

const safe = { isEncryptionAvailable: () => true, encryptString: (s: string) => Buffer.from(s).reverse(), decryptString: (b: Buffer) => Buffer.from(b).reverse().toString() };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-ipc-'));
  calls = [];
  services = {
    servers: new ServerList(join(dir, 'servers.json')),
    tokens: new TokenStore(join(dir, 'tokens.json'), safe),
    fetch: (url, init) => {
      calls.push({ url, init });
      return Promise.resolve(new Response('{"items":[]}', { status: 200, headers: { 'content-type': 'application/json' } }));
    },
  };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('IPC argument validation (common/ipc.ts)', () => {
  it('answers path: reason for malformed arguments', () => {
    expect(() => parseArgument('servers:remember', 'http://x')).toThrow('argument: must be an object');
    expect(() => parseArgument('servers:remember', { url: 'ftp://x' })).toThrow('url: only http and https are supported, not ftp:');
    expect(() => parseArgument('tokens:save', { url: 'http://x', refreshToken: '' })).toThrow(/^refreshToken: /);
    expect(() => parseArgument('tokens:save', { url: 'http://x', refreshToken: 't', extra: 1 })).toThrow('argument: unknown field extra');
    expect(() => parseArgument('servers:list', { sneaky: true })).toThrow(/takes none/);
    expect(() => parseArgument('api:request', { url: 'http://x/api/v1/agents', method: 'TRACE', headers: {} })).toThrow(/^request.method/);
    expect(() => parseArgument('api:request', { url: 'http://x/api/v1/agents', method: 'GET', headers: { cookie: 'a=b' } })).toThrow('request.headers: cookie may not be set by the console');
    expect(parseArgument('servers:remember', { url: 'HTTP://CP.example.com:80/x?y' })).toEqual({ url: 'http://cp.example.com' });
  });
});

describe('IPC handlers', () => {
  it('refuses a sender that is not the app before looking at the argument', async () => {
    const remember = ipcHandler('servers:remember', services);
    await expect(remember({ url: 'https://evil.example/', isMainFrame: true }, { url: 'http://127.0.0.1:8080' })).rejects.toThrow(/not this app/);
    await expect(remember({ url: APP_URL, isMainFrame: false }, { url: 'http://127.0.0.1:8080' })).rejects.toThrow(/sub-frame/);
    expect(services.servers.list()).toEqual([]);
  });

  it('makes API calls only to a remembered control plane, only under /api/, never following redirects', async () => {
    const request = ipcHandler('api:request', services);
    const call = { url: 'http://127.0.0.1:8080/api/v1/agents', method: 'GET', headers: { authorization: 'Bearer t' } };
    await expect(request(app, call)).rejects.toThrow(/not a control plane you connected to/);
    await ipcHandler('servers:remember', services)(app, { url: 'http://127.0.0.1:8080' });
    await expect(request(app, { ...call, url: 'http://127.0.0.1:8080/metrics' })).rejects.toThrow(/only the control plane API/);
    await expect(request(app, call)).resolves.toMatchObject({ kind: 'response', status: 200, body: '{"items":[]}', headers: { 'content-type': 'application/json' } });
    expect(calls).toEqual([{ url: call.url, init: { method: 'GET', headers: { authorization: 'Bearer t' }, body: undefined, redirect: 'error' } }]);
  });

  it('keeps refresh tokens only for remembered control planes', async () => {
    const save = ipcHandler('tokens:save', services);
    await expect(save(app, { url: 'http://127.0.0.1:8080', refreshToken: 'slr_x' })).rejects.toThrow(/not a control plane you connected to/);
    await ipcHandler('servers:remember', services)(app, { url: 'http://127.0.0.1:8080' });
    await save(app, { url: 'http://127.0.0.1:8080', refreshToken: 'slr_x' });
    await expect(ipcHandler('tokens:load', services)(app, { url: 'http://127.0.0.1:8080' })).resolves.toBe('slr_x');
    await ipcHandler('servers:forget', services)(app, { url: 'http://127.0.0.1:8080' });
    await expect(ipcHandler('tokens:load', services)(app, { url: 'http://127.0.0.1:8080' })).resolves.toBeNull();
  });

  it('tells an unreachable control plane from an untrusted certificate', () => {
    expect(networkFailure(new Error('net::ERR_CERT_AUTHORITY_INVALID'))).toMatchObject({ reason: 'tls' });
    expect(networkFailure(Object.assign(new TypeError('fetch failed'), { cause: { code: 'SELF_SIGNED_CERT_IN_CHAIN' } }))).toMatchObject({ reason: 'tls' });
    expect(networkFailure(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toMatchObject({ reason: 'unreachable' });
    expect(networkFailure(new Error('net::ERR_CONNECTION_REFUSED'))).toMatchObject({ reason: 'unreachable' });
  });

  it('the preload bridge and main agree on every channel', async () => {
    const handlers = new Map<string, IpcHandler>();
    registerIpc({ handleIpc: (channel, handler) => handlers.set(channel, handler) }, services);
    expect([...handlers.keys()].sort()).toEqual([...IPC_CHANNELS].sort());
    const bridge = createBridge((channel, argument) => handlers.get(channel)!(app, argument) as never);
    expect(await bridge.servers.remember('http://127.0.0.1:8080/x')).toEqual(['http://127.0.0.1:8080']);
    await bridge.tokens.save('http://127.0.0.1:8080', 'slr_y');
    expect(await bridge.tokens.load('http://127.0.0.1:8080')).toBe('slr_y');
    expect(await bridge.api.request({ url: 'http://127.0.0.1:8080/api/v1/agents', method: 'GET', headers: {} })).toMatchObject({ status: 200 });
  });
});

describe('the app lifecycle', () => {
  function fakePlatform(singleInstance: boolean) {
    const events: string[] = [];
    const windows: WindowSpec[] = [];
    const channels: string[] = [];
    let secondInstance: (() => void) | undefined;
    const platform: Platform = {
      userDataDir: dir,
      rendererDir: join(dir, 'renderer'),
      devServerUrl: undefined,
      safeStorage: safe,
      requestSingleInstance: () => singleInstance,
      onSecondInstance: (listener) => {
        secondInstance = listener;
      },
      onAllWindowsClosed: () => undefined,
      whenReady: () => Promise.resolve(),
      serveAppScheme: (scheme) => events.push(`scheme ${scheme}`),
      denyAllPermissions: () => events.push('permissions denied'),
      setMenu: (sections) => events.push(`menu ${sections.map((s) => s.label).join(',')}${sections.some((s) => s.roles.includes('toggleDevTools')) ? ' +devtools' : ''}`),
      createWindow: (spec) => {
        windows.push(spec);
        return { focus: () => events.push('focus') };
      },
      handleIpc: (channel) => channels.push(channel),
      fetch: () => Promise.reject(new Error('no network in this test')),
      quit: () => events.push('quit'),
    };
    return { platform, events, windows, channels, second: () => secondInstance?.() };
  }

  it('a second instance quits at once; the first focuses its window when another start is attempted', async () => {
    const second = fakePlatform(false);
    await runConsoleApp(second.platform, 'preload.cjs');
    expect(second.events).toEqual(['quit']);
    expect(second.windows).toEqual([]);

    const first = fakePlatform(true);
    await runConsoleApp(first.platform, 'preload.cjs');
    // No developer tools in the packaged app: they would expose the page's access token.
    expect(first.events).toEqual(['permissions denied', 'menu File,Edit,View,Window', 'scheme sluice-console']);
    expect(first.channels.sort()).toEqual([...IPC_CHANNELS].sort());
    expect(first.windows).toHaveLength(1);
    expect(first.windows[0]!.url).toBe(APP_URL);
    expect((first.windows[0]!.options.webPreferences as Record<string, unknown>).sandbox).toBe(true);
    expect(first.windows[0]!.policy.mayNavigate('https://evil.example/')).toBe(false);
    first.second();
    expect(first.events.at(-1)).toBe('focus');
  });
});
