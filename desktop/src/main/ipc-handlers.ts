/**
 * The main side of common/ipc.ts. Every message is checked twice before a handler runs: the sender must be
 * the top frame of a page of this app (an iframe or a page navigated elsewhere gets nothing), and the
 * argument must parse (`parseArgument`). Refusals answer an error naming the reason; they never reach a
 * store or the network.
 */
import { IPC_CHANNELS, IpcInputError, parseArgument, type IpcAnswer, type IpcArgument, type IpcChannel } from '../common/ipc.ts';
import { proxyApiRequest } from './api-proxy.ts';
import type { IpcSender, Platform } from './platform.ts';
import type { ServerList } from './server-list.ts';
import type { TokenStore } from './token-store.ts';
import { isAppUrl } from './window-options.ts';

export interface IpcServices {
  servers: ServerList;
  tokens: TokenStore;
  fetch: Platform['fetch'];
  devServerUrl?: string | undefined;
}

export class IpcSenderError extends Error {
  override readonly name = 'IpcSenderError';
}

export function checkSender(sender: IpcSender, devServerUrl?: string): void {
  if (!sender.isMainFrame) throw new IpcSenderError('refused: IPC from a sub-frame');
  if (!isAppUrl(sender.url, devServerUrl)) throw new IpcSenderError(`refused: IPC from ${sender.url}, which is not this app`);
}

function handlers(services: IpcServices): { [C in IpcChannel]: (argument: IpcArgument<C>) => Promise<IpcAnswer<C>> | IpcAnswer<C> } {
  const { servers, tokens } = services;
  return {
    'servers:list': () => servers.list(),
    'servers:remember': ({ url }) => servers.remember(url),
    'servers:forget': ({ url }) => {
      tokens.clear(url);
      return servers.forget(url);
    },
    'tokens:load': ({ url }) => tokens.load(url),
    'tokens:save': ({ url, refreshToken }) => {
      if (!servers.has(url)) throw new IpcInputError(`url: ${url} is not a control plane you connected to`);
      tokens.save(url, refreshToken);
      return null;
    },
    'tokens:clear': ({ url }) => {
      tokens.clear(url);
      return null;
    },
    'api:request': (request) => proxyApiRequest(request, (origin) => servers.has(origin), services.fetch),
  };
}

/** The handler of `channel` as main registers it: sender check, argument check, then the work. */
export function ipcHandler<C extends IpcChannel>(channel: C, services: IpcServices): (sender: IpcSender, raw: unknown) => Promise<IpcAnswer<C>> {
  const handle = handlers(services)[channel];
  return async (sender, raw) => {
    checkSender(sender, services.devServerUrl);
    return handle(parseArgument(channel, raw));
  };
}

export function registerIpc(platform: Pick<Platform, 'handleIpc'>, services: IpcServices): void {
  for (const channel of IPC_CHANNELS) platform.handleIpc(channel, ipcHandler(channel, services));
}
