// Builds the renderer into dist/renderer/. Relative base so the same files load from file://
// (Electron) and from the web host; no inline scripts or styles, because the CSP forbids them.
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    // esnext: noVNC (the Display tab) uses top-level await; the renderer runs in Chromium only.
    target: 'esnext',
    // Inlined assets become data: URLs; keep every asset a real file the CSP allows as 'self'.
    assetsInlineLimit: 0,
    // Chromium supports modulepreload natively; the polyfill would only add code.
    modulePreload: { polyfill: false },
    sourcemap: true,
  },
  server: { fs: { allow: [repo] } },
});
