/** Entry of the desktop app's main process (bundled by electron-vite to out/main/index.js). */
import { join } from 'node:path';
import { runConsoleApp } from './console-app.ts';
import { electronPlatform } from './electron-platform.ts';

const here = import.meta.dirname;
await runConsoleApp(electronPlatform(join(here, '../renderer')), join(here, '../preload/index.cjs'));
