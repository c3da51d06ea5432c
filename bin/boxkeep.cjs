#!/usr/bin/env node
// The `boxkeep` command. The CLI is TypeScript built into dist/ by `npm run build` and bundled
// into dist/cli/ (scripts/bundle-cli.mjs: a few files with a code cache load much faster than a
// hundred modules); this file only finds that build and hands over to it. CommonJS, as is
// bin/cli-loader.cjs: an ES module entry would bring up Node's ES module loader first.
'use strict';
const path = require('node:path');
const { cliLoader } = require('./cli-loader.cjs');

let cli;
try {
  cli = cliLoader(path.join(__dirname, '../dist/cli')).main();
} catch (err) {
  if (err.code !== 'ENOENT' || !err.path?.endsWith('main.cjs')) throw err;
  process.stderr.write(`boxkeep: not built yet: run \`npm run build\` in ${path.join(__dirname, '..', path.sep)} first.\n`);
  process.exit(1);
}
cli.runProcess();
