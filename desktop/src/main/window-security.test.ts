import { describe, expect, it } from 'vitest';
import { appMenu } from './app-menu.ts';
import { checkSender, IpcSenderError } from './ipc-handlers.ts';
import { APP_URL, isAppUrl, navigationPolicy, windowOptions } from './window-options.ts';

describe('the window (Electron security checklist)', () => {
  it('runs the page sandboxed, context-isolated, without Node, webviews or insecure content', () => {
    const prefs = windowOptions('/app/preload/index.cjs').webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({
      preload: '/app/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
    });
  });

  it('opens at 1280x800, the size the console is laid out for', () => {
    expect(windowOptions('p')).toMatchObject({ width: 1280, height: 800 });
  });

  it('navigates only within the app; every other page, scheme or the dev server of another origin is refused', () => {
    const policy = navigationPolicy();
    expect(policy.mayNavigate(APP_URL)).toBe(true);
    expect(policy.mayNavigate('sluice-console://app/index.html#/agents/gw-1')).toBe(true);
    for (const url of ['https://evil.example/', 'file:///etc/passwd', 'sluice-console://other/index.html', 'javascript:alert(1)', 'not a url']) {
      expect(policy.mayNavigate(url), url).toBe(false);
    }
    const dev = navigationPolicy('http://localhost:5173/');
    expect(dev.mayNavigate('http://localhost:5173/#/fleet')).toBe(true);
    expect(dev.mayNavigate(APP_URL)).toBe(false);
    expect(isAppUrl('http://localhost:5174/', 'http://localhost:5173/')).toBe(false);
  });
});

describe('the menu', () => {
  it('offers developer tools only with the dev server', () => {
    const roles = (devTools: boolean) => appMenu({ devTools }).flatMap((s) => s.roles);
    expect(roles(false)).not.toContain('toggleDevTools');
    expect(roles(true)).toContain('toggleDevTools');
    expect(roles(false)).toEqual(expect.arrayContaining(['copy', 'paste', 'reload', 'quit']));
  });
});

describe('IPC senders', () => {
  it('takes messages only from the top frame of an app page', () => {
    expect(() => checkSender({ url: APP_URL, isMainFrame: true })).not.toThrow();
    expect(() => checkSender({ url: APP_URL, isMainFrame: false })).toThrow(IpcSenderError);
    expect(() => checkSender({ url: 'https://evil.example/', isMainFrame: true })).toThrow(/not this app/);
    expect(() => checkSender({ url: '', isMainFrame: true })).toThrow(IpcSenderError);
  });
});
