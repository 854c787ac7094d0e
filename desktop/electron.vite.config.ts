/**
 * The desktop app's build (`npm run build:desktop`, then electron-builder packages out/): main as an ES
 * module, the preload as one CommonJS file (a sandboxed preload can require only `electron`), and the
 * same renderer as /console. The workspace's own shared/ is TypeScript source: it is bundled, not required.
 */
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { rendererConfig } from './vite.config.ts';

const here = import.meta.dirname;
const bundleShared = { exclude: ['@sluice/shared'] };

export default defineConfig({
  main: {
    build: {
      outDir: resolve(here, 'out/main'),
      externalizeDeps: bundleShared,
      rollupOptions: { input: resolve(here, 'src/main/index.ts'), output: { format: 'es', entryFileNames: 'index.js' } },
    },
  },
  preload: {
    build: {
      outDir: resolve(here, 'out/preload'),
      externalizeDeps: false,
      rollupOptions: { input: resolve(here, 'src/preload/index.ts'), output: { format: 'cjs', entryFileNames: 'index.cjs' } },
    },
  },
  renderer: {
    ...rendererConfig,
    build: { ...rendererConfig.build, outDir: resolve(here, 'out/renderer'), rollupOptions: { input: resolve(here, 'src/renderer/index.html') } },
  },
});
