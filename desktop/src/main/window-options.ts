/**
 * The window's security settings and navigation rule, in one place so a test can hold them to what the
 * Electron security checklist asks (https://www.electronjs.org/docs/latest/tutorial/security): the page
 * runs sandboxed, isolated from the preload's world, without Node; it can reach nothing but its own app
 * files, and opens no other window.
 */
import type { WindowPolicy } from './platform.ts';

export const APP_SCHEME = 'sluice-console';
export const APP_HOST = 'app';
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** 1280x800 is the smallest size the console is laid out for. */
export function windowOptions(preloadPath: string): Record<string, unknown> {
  return {
    width: 1280,
    height: 800,
    minWidth: 1024,
    minHeight: 640,
    show: true,
    title: 'Sluice console',
    autoHideMenuBar: true,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/** Whether `url` is a page of this app: its own scheme and host, or the dev server's origin when set. */
export function isAppUrl(url: string, devServerUrl?: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (devServerUrl !== undefined) return parsed.origin === new URL(devServerUrl).origin;
  // A custom scheme's URL has origin "null"; the scheme and host say whose it is.
  return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
}

/** In-page hash changes are not navigations; anything leaving the app is refused. */
export function navigationPolicy(devServerUrl?: string): WindowPolicy {
  return { mayNavigate: (url) => isAppUrl(url, devServerUrl) };
}
