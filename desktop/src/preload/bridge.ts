/**
 * The typed bridge the page gets as `window.sluice`: one function per IPC channel, nothing else (no raw
 * ipcRenderer, no event emitters), so the page can ask main only what common/ipc.ts defines.
 */
import type { ConsoleBridge, IpcAnswer, IpcArgument, IpcChannel } from '../common/ipc.ts';

export type Invoke = <C extends IpcChannel>(channel: C, argument: IpcArgument<C>) => Promise<IpcAnswer<C>>;

export function createBridge(invoke: Invoke): ConsoleBridge {
  return {
    servers: {
      list: () => invoke('servers:list', null),
      remember: (url) => invoke('servers:remember', { url }),
      forget: (url) => invoke('servers:forget', { url }),
    },
    tokens: {
      load: (url) => invoke('tokens:load', { url }),
      save: (url, refreshToken) => invoke('tokens:save', { url, refreshToken }),
      clear: (url) => invoke('tokens:clear', { url }),
    },
    api: { request: (request) => invoke('api:request', request) },
  };
}
