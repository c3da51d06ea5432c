#!/usr/bin/env node
// The `boxkeep` command. The CLI is TypeScript built into dist/ by `npm run build` and bundled
// into dist/cli/ (scripts/bundle-cli.mjs: a few files with a code cache load much faster than a
// hundred modules); this file only finds that build and hands over to it.
import { fileURLToPath } from 'node:url';
import { cliLoader } from './cli-loader.mjs';

const dir = fileURLToPath(new URL('../dist/cli', import.meta.url));
let cli;
try {
  cli = cliLoader(dir).main();
} catch (err) {
  if (err.code !== 'ENOENT' || !err.path?.endsWith('main.cjs')) throw err;
  process.stderr.write(`boxkeep: not built yet: run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))} first.\n`);
  process.exit(1);
}
await cli.runProcess();
