#!/usr/bin/env node
// Bundles the tsc output of the CLI (dist/electron/cli/main.js and what it imports) into a few
// files in dist/cli/. A command used to load ~100 small ES modules one by one; Node resolves,
// reads and links each, and that was most of a command's start-up (issue: CLI start-up).
// Packages written as ES modules (valibot) are bundled too, so only what is used is loaded;
// CommonJS and native packages stay in node_modules and load as they always do.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuiltin } from 'node:module';
import { build } from 'rolldown';

const EXTERNAL = ['better-sqlite3', 'ws', 'electron-log'];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function bundleCli() {
  await build({
    input: path.join(root, 'dist/electron/cli/main.js'),
    platform: 'node',
    external: (id) => isBuiltin(id) || EXTERNAL.some((pkg) => id === pkg || id.startsWith(pkg + '/')),
    logLevel: 'warn',
    output: { dir: path.join(root, 'dist/cli'), format: 'esm', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', cleanDir: true },
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await bundleCli();
