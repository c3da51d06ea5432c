#!/usr/bin/env node
// Bundles the tsc output of the CLI (dist/electron/cli/main.js and what it imports) into a few
// files in dist/cli/. A command used to load ~100 small ES modules one by one; Node resolves,
// reads and links each, and that was most of a command's start-up (issue: CLI start-up).
// Packages written as ES modules (valibot) are bundled too, so only what is used is loaded; so
// is better-sqlite3's JavaScript (a dozen files Node would resolve one by one at every command),
// its native addon staying in node_modules. Other packages stay in node_modules.
// The chunks are CommonJS so that bin/cli-loader.cjs can run them with V8's code cache, which
// this script then writes by running a few commands against a scratch home.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuiltin } from 'node:module';
import { build } from 'rolldown';
import { cliLoader } from '../bin/cli-loader.cjs';

const EXTERNAL = ['ws', 'electron-log'];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist/cli');

export async function bundleCli() {
  await build({
    input: path.join(root, 'dist/electron/cli/main.js'),
    platform: 'node',
    external: (id) => isBuiltin(id) || id.endsWith('.node') || EXTERNAL.some((pkg) => id === pkg || id.startsWith(pkg + '/')),
    resolve: { alias: { bindings: path.join(root, 'scripts/cli-bindings.cjs') } },
    logLevel: 'warn',
    output: {
      dir: outDir,
      format: 'cjs',
      entryFileNames: '[name].cjs',
      chunkFileNames: '[name]-[hash].cjs',
      cleanDir: true,
      // require() for packages loaded on demand: the loader runs chunks as scripts, which have
      // no import().
      dynamicImportInCjs: false,
    },
  });
  await writeCodeCache();
}

/**
 * Runs the commands whose start-up matters most in this process, then writes every chunk's
 * code cache: a cache made after a run holds the functions that run compiled, not only the
 * top level. Commands not run here still load from a cache, and compile what is missing.
 */
async function writeCodeCache() {
  const loader = cliLoader(outDir);
  const { main } = loader.main();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-cache-'));
  const io = { stdout: () => {}, stderr: () => {}, stderrIsTTY: false, cwd: root, now: () => Date.now() };
  try {
    const at = ['--home', path.join(home, 'h')];
    for (const argv of [['--version'], ['--help'], [...at, 'box', 'list'], [...at, 'box', 'list', '--json'], [...at, 'image', 'list'], [...at, 'snapshot', 'list', 'nobox']]) {
      const code = await main(argv, {}, io);
      // Not fatal: better-sqlite3 may be built for Electron right now (scripts/start.mjs
      // --native electron). The cache then holds less, and the CLI compiles the rest.
      if (code !== 0 && argv.at(-1) !== 'nobox') process.stderr.write(`bundle-cli: \`boxkeep ${argv.join(' ')}\` failed (exit ${code}) while writing the code cache; the cache will be smaller.\n`);
    }
    loader.loadAll();
    loader.writeCaches();
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await bundleCli();
