// Stands in for the `bindings` package when better-sqlite3 is bundled into the CLI
// (scripts/bundle-cli.mjs). `bindings` finds the addon from its caller's file name and tries a
// dozen folders; bundled, its caller is dist/cli, so it would look in the wrong package. The
// addon is where `npm ci` (prebuild-install or node-gyp) puts it, loaded from node_modules.
module.exports = () => require('better-sqlite3/build/Release/better_sqlite3.node');
