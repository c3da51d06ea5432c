// Loads the bundled CLI (dist/cli/*.cjs, made by scripts/bundle-cli.mjs) with V8's code cache.
// A command is a fresh process: without a cache V8 parses and compiles every function the
// command runs, every time. Node 20 has no compile cache for modules of its own (that is Node
// 22's module.enableCompileCache), but vm.Script takes cached data; so the bundle is CommonJS,
// and its chunks are run here, each with the cache the build wrote beside it (<chunk>.v8).
// A cache V8 rejects (another Node, other V8 flags) is ignored: the chunk compiles as usual.
// This file and bin/boxkeep.cjs are CommonJS too: an ES module entry brings up Node's ES module
// loader (a dozen internal modules, and fs/promises) before the first line of the CLI runs.
'use strict';
const { createRequire } = require('node:module');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const CACHE_SUFFIX = '.v8';
/**
 * Exactly Node's own CommonJS wrapper (so line numbers in stack traces stay true), which the
 * bundler writes around each chunk: wrapping it here would copy the whole source once more at
 * every command, and a young-generation collection with it.
 */
const WRAPPER = ['(function (exports, require, module, __filename, __dirname) { ', '\n});'];

/** The chunks of one bundle folder; `main()` returns the entry's exports. */
function cliLoader(dir) {
  const modules = new Map();
  const scripts = new Map();
  // Packages (better-sqlite3, ws, electron-log) and builtins load through Node as always.
  const external = createRequire(path.join(dir, 'main.cjs'));

  function load(file) {
    const known = modules.get(file);
    if (known) return known.exports;
    const module = { exports: {} };
    modules.set(file, module);
    let cachedData;
    try {
      cachedData = fs.readFileSync(file + CACHE_SUFFIX);
    } catch {
      /* not built with a cache: compile */
    }
    const script = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData });
    scripts.set(file, script);
    const dirname = path.dirname(file);
    const localRequire = (id) => (id.startsWith('./') ? load(path.join(dirname, id)) : external(id));
    script.runInThisContext().call(module.exports, module.exports, localRequire, module, file, dirname);
    return module.exports;
  }

  return {
    main: () => load(path.join(dir, 'main.cjs')),
    /** Every chunk, run or not: the build caches them all. */
    loadAll: () => fs.readdirSync(dir).filter((f) => f.endsWith('.cjs')).forEach((f) => load(path.join(dir, f))),
    /** The chunks loaded so far that had no cache, or one V8 refused. */
    cacheMisses: () => [...scripts].filter(([, script]) => script.cachedDataRejected !== false).map(([file]) => path.basename(file)),
    /** Writes each loaded chunk's cache: after a run it holds the functions the run compiled. */
    writeCaches: () => {
      for (const [file, script] of scripts) fs.writeFileSync(file + CACHE_SUFFIX, script.createCachedData());
    },
  };
}

module.exports = { cliLoader, WRAPPER };
