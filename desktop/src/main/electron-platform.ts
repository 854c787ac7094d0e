/**
 * The only file of main/ that imports Electron: the Platform interface (platform.ts) on Electron's APIs.
 * It holds no decisions; those are in the modules it is handed, which the tests run without Electron.
 */
import { readFile } from 'node:fs/promises';
import { BrowserWindow, Menu, app, ipcMain, net, protocol, safeStorage, session } from 'electron';
import type { Platform } from './platform.ts';

// Before `ready`: the scheme behaves like https (secure context, its own origin, fetch and CSP apply).
protocol.registerSchemesAsPrivileged([{ scheme: 'sluice-console', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

export function electronPlatform(rendererDir: string): Platform {
  return {
    userDataDir: app.getPath('userData'),
    rendererDir,
    devServerUrl: process.env.ELECTRON_RENDERER_URL,
    safeStorage: {
      isEncryptionAvailable: () => safeStorage.isEncryptionAvailable(),
      encryptString: (plain) => safeStorage.encryptString(plain),
      decryptString: (encrypted) => safeStorage.decryptString(encrypted),
      backend: process.platform === 'linux' ? () => safeStorage.getSelectedStorageBackend() : undefined,
    },
    requestSingleInstance: () => app.requestSingleInstanceLock(),
    onSecondInstance: (listener) => app.on('second-instance', listener),
    onAllWindowsClosed: (listener) => app.on('window-all-closed', listener),
    whenReady: () => app.whenReady(),
    serveAppScheme: (scheme, answer) => {
      protocol.handle(scheme, async (request) => {
        const file = await answer(new URL(request.url).pathname);
        const body = file.path === undefined ? (file.text ?? '') : await readFile(file.path);
        return new Response(body, { status: file.status, headers: file.headers });
      });
    },
    denyAllPermissions: () => {
      session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
      session.defaultSession.setPermissionCheckHandler(() => false);
    },
    createWindow: (spec) => {
      const window = new BrowserWindow(spec.options);
      const contents = window.webContents;
      contents.on('will-navigate', (event, url) => {
        if (!spec.policy.mayNavigate(url)) event.preventDefault();
      });
      contents.on('will-redirect', (event, url) => {
        if (!spec.policy.mayNavigate(url)) event.preventDefault();
      });
      contents.setWindowOpenHandler(() => ({ action: 'deny' }));
      contents.on('will-attach-webview', (event) => event.preventDefault());
      void window.loadURL(spec.url);
      return {
        focus: () => {
          if (window.isMinimized()) window.restore();
          window.focus();
        },
      };
    },
    setMenu: (sections) => {
      Menu.setApplicationMenu(Menu.buildFromTemplate(sections.map((s) => ({ label: s.label, submenu: s.roles.map((role) => ({ role })) }))));
    },
    handleIpc: (channel, handler) => {
      ipcMain.handle(channel, (event, argument: unknown) => {
        const frame = event.senderFrame;
        return handler({ url: frame?.url ?? '', isMainFrame: frame !== null && frame === event.sender.mainFrame }, argument);
      });
    },
    fetch: (url, init) => net.fetch(url, init),
    quit: () => app.quit(),
  };
}
