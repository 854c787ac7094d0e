/**
 * The renderer's build (`npm run build:console`): one static bundle that the control plane serves at
 * /console and the desktop app loads from its own scheme. Relative asset paths (`base: './'`) make the
 * same files work under both; no inline script or style, so the strict CSP needs no exception.
 */
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type UserConfig } from 'vite';

export const RENDERER_ROOT = resolve(import.meta.dirname, 'src/renderer');
export const RENDERER_OUT = resolve(import.meta.dirname, 'dist/renderer');

export const rendererConfig: UserConfig = {
  root: RENDERER_ROOT,
  base: './',
  plugins: [react()],
  build: {
    outDir: RENDERER_OUT,
    emptyOutDir: true,
    // No inline data: URLs for small assets, so img-src needs nothing beyond 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
};

export default defineConfig(rendererConfig);
