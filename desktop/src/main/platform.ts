/**
 * What the main process needs of Electron, as plain interfaces: electron-platform.ts is the only file that
 * imports `electron` and implements them, so everything else in main/ runs (and is tested) in plain Node
 * with fakes.
 */
import type { MenuSection } from './app-menu.ts';

/** Electron's safeStorage: the OS keychain (Keychain, DPAPI, libsecret / kwallet) behind two calls. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: which keychain; `basic_text` means no keychain, only an obfuscation. */
  backend?(): string;
}

/** Who sent an IPC message: the frame's URL and whether it is the window's top frame. */
export interface IpcSender {
  url: string;
  isMainFrame: boolean;
}

export type IpcHandler = (sender: IpcSender, argument: unknown) => Promise<unknown>;

/** What a window must enforce; electron-platform.ts wires each to the matching Electron event. */
export interface WindowPolicy {
  /** Whether the window may navigate to (or be redirected to) `url`. */
  mayNavigate(url: string): boolean;
}

export interface WindowSpec {
  /** BrowserWindow constructor options (see window-options.ts). */
  options: Record<string, unknown>;
  url: string;
  policy: WindowPolicy;
}

export interface AppWindowHandle {
  focus(): void;
}

/** A file answer for the app's own scheme. */
export interface AppFileAnswer {
  status: number;
  headers: Record<string, string>;
  /** The file to send (absent: `text` is the body). */
  path?: string;
  text?: string;
}

export interface Platform {
  /** Where the app keeps its files (Electron's userData). */
  userDataDir: string;
  /** The built renderer shipped with the app. */
  rendererDir: string;
  /** Set by `electron-vite dev`: the renderer's dev server instead of the built files. */
  devServerUrl: string | undefined;
  safeStorage: SafeStorageLike;
  /** False when another instance already runs (it is told to show itself; this one quits). */
  requestSingleInstance(): boolean;
  onSecondInstance(listener: () => void): void;
  onAllWindowsClosed(listener: () => void): void;
  whenReady(): Promise<void>;
  /** Serves the app's scheme (`sluice-console://app/...`) from `answer`. */
  serveAppScheme(scheme: string, answer: (pathname: string) => Promise<AppFileAnswer>): void;
  /** Denies every permission request (camera, notifications, ...): the console needs none. */
  denyAllPermissions(): void;
  createWindow(spec: WindowSpec): AppWindowHandle;
  setMenu(sections: readonly MenuSection[]): void;
  handleIpc(channel: string, handler: IpcHandler): void;
  /** Electron's net.fetch: Chromium's network stack, the system's proxy settings and certificate store. */
  fetch(url: string, init: { method: string; headers: Record<string, string>; body?: string | undefined; redirect: 'error' }): Promise<Response>;
  quit(): void;
}
