#!/usr/bin/env node
// Bundles the tsc output of the CLI (dist/electron/cli/main.js and what it imports) into a few
// files in dist/cli/. A command used to load ~100 small ES modules one by one; Node resolves,
// reads and links each, and that was most of a command's start-up (issue: CLI start-up).
// Packages written as ES modules (valibot) are bundled too, so only what is used is loaded; so
// is better-sqlite3's JavaScript (a dozen files Node would resolve one by one at every command),
// its native addon staying in node_modules. Other packages stay in node_modules.
// The chunks are CommonJS so that bin/cli-loader.cjs can run them with V8's code cache, which
// this script then writes by running a few commands against a scratch home.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuiltin } from 'node:module';
import { build } from 'rolldown';
import { cliLoader, WRAPPER } from '../bin/cli-loader.cjs';

const EXTERNAL = ['ws', 'electron-log'];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist/cli');

export async function bundleCli() {
  const options = {
    input: path.join(root, 'dist/electron/cli/main.js'),
    platform: 'node',
    external: (id) => isBuiltin(id) || id.endsWith('.node') || EXTERNAL.some((pkg) => id === pkg || id.startsWith(pkg + '/')),
    resolve: { alias: { bindings: path.join(root, 'scripts/cli-bindings.cjs') } },
    logLevel: 'warn',
  };
  const output = {
    dir: outDir,
    format: 'cjs',
    entryFileNames: '[name].cjs',
    chunkFileNames: '[name]-[hash].cjs',
    cleanDir: true,
    // require() for packages loaded on demand: the loader runs chunks as scripts, which have
    // no import().
    dynamicImportInCjs: false,
    // Every chunk is read into a string at every command: ASCII makes it a one-byte string
    // (any other character doubles its size and its hashing), and comments are only bytes to read.
    charset: 'ascii',
    comments: { legal: false, annotation: true, jsdoc: false },
  };
  const groups = await loadGroups(options, output);
  await build({ ...options, output: { ...output, codeSplitting: { groups } } });
  for (const file of fs.readdirSync(outDir).filter((f) => f.endsWith('.cjs'))) {
    const chunk = path.join(outDir, file);
    fs.writeFileSync(chunk, WRAPPER[0] + fs.readFileSync(chunk, 'utf8') + WRAPPER[1]);
  }
  await writeCodeCache();
}

/**
 * The channel map with its schemas and valibot: a chunk of its own, loaded by whoever checks
 * an input (the reader, the engine's router, the CLI when an input was refused), not by a
 * command forwarded to the app.
 */
const CONTRACT = /(node_modules[\\/]valibot[\\/]|[\\/]shared[\\/](channels|validate)\.js$)/;

/**
 * The dynamic imports the short commands take: each comes with what it needs in one chunk. Not
 * the control client: what it shares with the engine (events, streams, wire) would then come
 * with node:net, which the engine would load for nothing.
 */
const QUICK = ['electron/core/reader.js'];

/**
 * Left to itself the bundler makes a chunk of every set of modules a different set of importers
 * shares, and a command reads, compiles and runs each chunk it needs separately (a dozen for
 * `box list`). A first build shows which modules each start-up path loads: the entry's static
 * imports (every command), the CONTRACT modules, and the static closure of each QUICK import;
 * each such set becomes one chunk, taken by the first set that holds a module.
 */
async function loadGroups(options, output) {
  const { output: chunks } = await build({ ...options, write: false, output: { ...output, cleanDir: false } });
  const byFile = new Map(chunks.filter((c) => c.type === 'chunk').map((c) => [c.fileName, c]));
  const closure = (chunk, seen = new Set()) => {
    if (seen.has(chunk.fileName)) return seen;
    seen.add(chunk.fileName);
    for (const file of chunk.imports) if (byFile.has(file)) closure(byFile.get(file), seen);
    return seen;
  };
  const entry = byFile.get('main.cjs');
  const taken = new Set(entry.moduleIds);
  const groups = [];
  const group = (name, files, only = () => true) => {
    const ids = [...files].flatMap((f) => byFile.get(f).moduleIds).filter((id) => !taken.has(id) && only(id));
    ids.forEach((id) => taken.add(id));
    const set = new Set(ids);
    groups.push({ name, test: (id) => set.has(id), priority: 100 - groups.length });
  };
  group('base', [...closure(entry)].filter((f) => f !== 'main.cjs'));
  group('contract', byFile.keys(), (id) => CONTRACT.test(id));
  for (const quick of QUICK) {
    const chunk = [...byFile.values()].find((c) => c.facadeModuleId?.endsWith(quick));
    if (!chunk) throw new Error(`bundle-cli: no chunk starts at ${quick}; update QUICK`);
    group(path.basename(quick, '.js'), closure(chunk));
  }
  return groups;
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
    const seed = path.join(home, 'seed.img');
    fs.writeFileSync(seed, Buffer.alloc(1024 * 1024));
    const lists = [[...at, 'box', 'list'], [...at, 'box', 'list', '--json'], [...at, 'image', 'list'], [...at, 'snapshot', 'list', 'b'], [...at, 'snapshot', 'list', 'b', '--json']];
    const run = async (argv, failing = false) => {
      const code = await main(argv, {}, io);
      // Not fatal: better-sqlite3 may be built for Electron right now (scripts/start.mjs
      // --native electron), or qemu-img missing. The cache then holds less, and the CLI
      // compiles the rest.
      if ((code !== 0) !== failing) process.stderr.write(`bundle-cli: \`boxkeep ${argv.join(' ')}\` ${failing ? 'did not fail' : `failed (exit ${code})`} while writing the code cache; the cache will be smaller.\n`);
    };
    // The listings on an empty home and on one with a box and a snapshot tree, then a snapshot
    // and a listing forwarded to an owner: a function the runs here never called is not in the
    // cache and compiles at every command, and one they did call is read from the cache by every
    // command, used or not. So the home is furnished by other processes, not by runs here.
    for (const argv of [['--version'], ['--help'], ...lists.slice(0, 3)]) await run(argv);
    await run([...at, 'snapshot', 'list', 'b'], true);
    for (const argv of [['image', 'import', seed, '--name', 'seed'], ['box', 'create', 'b', '--image', 'seed'], ['snapshot', 'create', 'b', 'one'], ['snapshot', 'create', 'b', 'two', '--description', 'a note']]) {
      const r = spawnSync(process.execPath, [path.join(root, 'bin/boxkeep.cjs'), ...at, ...argv], { encoding: 'utf8' });
      if (r.status !== 0) process.stderr.write(`bundle-cli: \`boxkeep ${argv.join(' ')}\` failed (exit ${r.status}) while furnishing the code cache's home; the cache will be smaller.\n`);
    }
    for (const argv of lists) await run(argv);
    await withOwner(path.join(home, 'h'), async () => {
      for (const argv of [[...at, 'snapshot', 'create', 'b', 'three'], [...at, 'box', 'list']]) await run(argv);
    });
    loader.loadAll();
    loader.writeCaches();
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** Runs `work` while `boxkeep serve` owns the home, so the commands in it are forwarded. */
async function withOwner(home, work) {
  const owner = spawn(process.execPath, [path.join(root, 'bin/boxkeep.cjs'), '--home', home, 'serve', '--port', '0'], { stdio: 'ignore' });
  const exited = new Promise((done) => owner.once('exit', done));
  try {
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(path.join(home, 'control.sock'))) {
      if (Date.now() > deadline || owner.exitCode !== null) {
        process.stderr.write('bundle-cli: `boxkeep serve` did not start while writing the code cache; the cache will be smaller.\n');
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await work();
  } finally {
    owner.kill('SIGTERM');
    await exited;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await bundleCli();
