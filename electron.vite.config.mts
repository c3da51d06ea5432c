// electron-vite: builds the main process, the preload and the renderer into out/ for the
// Electron app (`npm start`, packaging). The renderer keeps its own vite config for the
// browser build (dist/renderer, served by `boxkeep serve`); both share the same React plugin
// and relative base, so one index.html works from app:// and from the web host.
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';

const at = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  main: {
    build: {
      outDir: at('./out/main'),
      // Native and Node-only packages stay in node_modules (better-sqlite3 cannot be bundled).
      externalizeDeps: true,
      rollupOptions: { input: { index: at('./electron/main/index.ts') } },
    },
  },
  preload: {
    build: {
      outDir: at('./out/preload'),
      // A sandboxed preload can require nothing but 'electron': bundle shared/ and valibot in,
      // as CommonJS (.cjs, since this package is "type": "module").
      externalizeDeps: false,
      rollupOptions: {
        input: { index: at('./electron/preload/index.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: at('./renderer'),
    base: './',
    plugins: [react()],
    build: {
      outDir: at('./out/renderer'),
      emptyOutDir: true,
      // esnext: noVNC (the Display tab) uses top-level await; the renderer runs in Chromium only.
      target: 'esnext',
      assetsInlineLimit: 0,
      modulePreload: { polyfill: false },
      rollupOptions: { input: { index: at('./renderer/index.html') } },
    },
  },
});
