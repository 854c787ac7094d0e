/**
 * The desktop app's lifecycle, on the Platform interface: one instance (a second start focuses the first
 * window), the app's files on its own scheme, every permission denied, the menu, the IPC handlers, one window.
 */
import { join } from 'node:path';
import { appFile } from './app-files.ts';
import { appMenu } from './app-menu.ts';
import { registerIpc } from './ipc-handlers.ts';
import type { AppWindowHandle, Platform } from './platform.ts';
import { ServerList } from './server-list.ts';
import { TokenStore } from './token-store.ts';
import { APP_SCHEME, APP_URL, navigationPolicy, windowOptions } from './window-options.ts';

export async function runConsoleApp(platform: Platform, preloadPath: string): Promise<void> {
  if (!platform.requestSingleInstance()) {
    platform.quit();
    return;
  }
  const shown: { window?: AppWindowHandle } = {};
  platform.onSecondInstance(() => shown.window?.focus());
  platform.onAllWindowsClosed(() => platform.quit());
  await platform.whenReady();

  platform.denyAllPermissions();
  platform.setMenu(appMenu({ devTools: platform.devServerUrl !== undefined }));
  platform.serveAppScheme(APP_SCHEME, (pathname) => appFile(platform.rendererDir, pathname));
  registerIpc(platform, {
    servers: new ServerList(join(platform.userDataDir, 'servers.json')),
    tokens: new TokenStore(join(platform.userDataDir, 'tokens.json'), platform.safeStorage),
    fetch: (url, init) => platform.fetch(url, init),
    devServerUrl: platform.devServerUrl,
  });
  shown.window = platform.createWindow({ options: windowOptions(preloadPath), url: platform.devServerUrl ?? APP_URL, policy: navigationPolicy(platform.devServerUrl) });
}
