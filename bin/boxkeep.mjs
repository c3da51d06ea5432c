#!/usr/bin/env node
// The `boxkeep` command. The CLI is TypeScript built into dist/ by `npm run build` and bundled
// into dist/cli/ (scripts/bundle-cli.mjs: a few files load much faster than a hundred); this
// file only finds that build and hands over to it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(`boxkeep: not built yet: run \`npm run build\` in ${root} first.\n`);
  process.exit(1);
}
const { runProcess } = await import(entry.href);
await runProcess();
