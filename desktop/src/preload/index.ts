/** Preload (sandboxed, bundled to CommonJS): exposes the bridge through contextBridge and nothing else. */
import { contextBridge, ipcRenderer } from 'electron';
import { BRIDGE_GLOBAL, type IpcAnswer, type IpcChannel } from '../common/ipc.ts';
import { createBridge } from './bridge.ts';

contextBridge.exposeInMainWorld(
  BRIDGE_GLOBAL,
  createBridge(<C extends IpcChannel>(channel: C, argument: unknown) => ipcRenderer.invoke(channel, argument) as Promise<IpcAnswer<C>>),
);
