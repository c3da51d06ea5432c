#!/usr/bin/env node
// `npm start`: launches the Boxkeep app. Where Electron's runtime cannot be had (it is
// downloaded on first launch, so an offline machine has none), it says so and serves the same
// UI to a browser through `boxkeep serve` instead, printing the address.
//
// better-sqlite3 is a native module built for one ABI: Electron's to run the app, Node's for
// `boxkeep`, `boxkeep serve` and the tests. This script switches it when needed and only then,
// by reading which ABI the built binary registers (node_register_module_v<N>):
//   node scripts/start.mjs                    the app (or the browser UI)
//   node scripts/start.mjs --retry-download   try again to download Electron after a failed attempt
//   node scripts/start.mjs --native node      make better-sqlite3 load in this Node (pretest)
//   node scripts/start.mjs --native electron  make it load in Electron (prestart does it itself)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = (...p) => path.join(ROOT, ...p);
const NATIVE = at('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
const say = (text) => process.stdout.write(text + '\n');

class StartError extends Error {}

/** The ABI a native module was built for, read from its registration symbol; null if unknown. */
export function binaryAbi(file = NATIVE) {
  let bytes;
  try {
    bytes = fs.readFileSync(file).toString('latin1');
  } catch {
    return null;
  }
  if (/napi_register_module_v\d+/.test(bytes)) return 'napi';
  return /node_register_module_v(\d+)/.exec(bytes)?.[1] ?? null;
}

export function electronAbi() {
  return fs.readFileSync(at('node_modules', 'electron', 'abi_version'), 'utf8').trim();
}

function electronVersion() {
  return JSON.parse(fs.readFileSync(at('node_modules', 'electron', 'package.json'), 'utf8')).version;
}

/** npm and node-gyp settings inherited from `npm start` point builds at Node's headers. */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_(nodedir|target|runtime|disturl|node_gyp)$/i.test(k)));
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (r.error) throw new StartError(`Could not run ${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

export function ensureNative(target) {
  const want = target === 'electron' ? electronAbi() : process.versions.modules;
  const have = binaryAbi();
  if (have === want || have === 'napi') return false;
  const label = target === 'electron' ? `Electron ${electronVersion()} (ABI ${want})` : `Node ${process.version} (ABI ${want})`;
  say(`better-sqlite3 is built for ABI ${have ?? 'unknown (not built)'}; rebuilding it for ${label}. This takes a minute the first time.`);
  if (target === 'node') {
    run(npmCommand(), ['rebuild', 'better-sqlite3'], { env: cleanEnv(), shell: process.platform === 'win32' });
  } else {
    const cli = at('node_modules', '@electron', 'rebuild', 'lib', 'cli.js');
    run(process.execPath, [cli, '--force', '--only', 'better-sqlite3', '--version', electronVersion(), '--module-dir', ROOT], { env: cleanEnv() });
  }
  const now = binaryAbi();
  if (now !== want) {
    throw new StartError(
      `better-sqlite3 is still built for ABI ${now ?? 'unknown'} after the rebuild, not ${want} (${label}).\n` +
        (target === 'electron'
          ? "Building for Electron needs Electron's headers, downloaded from electronjs.org; without network access the build falls back to Node's headers and the result cannot load in Electron. Connect to the internet and run `npm start` again."
          : 'Check that a C++ toolchain (make, g++, python3) is installed, then run `npm rebuild better-sqlite3`.'),
    );
  }
  say(`better-sqlite3 now loads in ${label}.`);
  return true;
}

const npmCommand = () => (process.platform === 'win32' ? 'npm.cmd' : 'npm');

/** Where a failed download of Electron's runtime is remembered, per Electron version. */
export const DOWNLOAD_MEMO = at('.cache', 'electron-download.json');

/**
 * The Electron executable, downloading it once if needed; null (with the reason) when it cannot
 * be had. A failed download is remembered for this Electron version, so an offline machine is
 * not told "downloading it" (and made to wait for the attempt) at every start; `--retry-download`
 * (or deleting the memo) tries again.
 */
export function findElectron({ memo = DOWNLOAD_MEMO, retry = false, version = electronVersion() } = {}) {
  const located = () => {
    try {
      const rel = fs.readFileSync(at('node_modules', 'electron', 'path.txt'), 'utf8').trim();
      const exe = at('node_modules', 'electron', 'dist', rel);
      return fs.existsSync(exe) ? exe : null;
    } catch {
      return null;
    }
  };
  const found = located();
  if (found) return { exe: found, reason: null, remembered: false };
  const failed = retry ? null : readMemo(memo, version);
  if (failed) return { exe: null, reason: failed, remembered: true };
  say(`Electron's runtime (${version}) is not installed yet; downloading it (once)...`);
  const r = spawnSync(process.execPath, [at('node_modules', 'electron', 'install.js')], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  const exe = located();
  if (exe) return { exe, reason: null, remembered: false };
  const lines = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /error|fail|ENOTFOUND|EAI_AGAIN|ECONN|timed? ?out/i.test(l)) ?? lines.at(-1) ?? `the installer exited with ${r.status}`;
  const offline = /fetch failed|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH|timed? ?out/i.test(line);
  const reason = `its download failed: ${line.slice(0, 200)}${offline ? ' — this machine seems to have no internet access' : ''}`;
  writeMemo(memo, version, reason);
  return { exe: null, reason, remembered: false };
}

function readMemo(file, version) {
  try {
    const memo = JSON.parse(fs.readFileSync(file, 'utf8'));
    return memo.version === version && typeof memo.reason === 'string' ? memo.reason : null;
  } catch {
    return null;
  }
}

function writeMemo(file, version, reason) {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ version, reason, at: new Date().toISOString() }, null, 2) + '\n');
  } catch {
    /* not remembering only costs another attempt next time */
  }
}

// ---- builds, each skipped when its output is newer than every input

function newest(dirs) {
  let max = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else max = Math.max(max, fs.statSync(full).mtimeMs);
    }
  };
  for (const d of dirs) walk(at(d));
  return Math.max(max, fs.statSync(at('package.json')).mtimeMs);
}
const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0);

function buildIfStale(label, output, inputs, cmd, args) {
  if (mtime(output) > newest(inputs)) return;
  say(`Building ${label}...`);
  if (run(cmd, args) !== 0 || !fs.existsSync(output)) throw new StartError(`Building ${label} failed; see the output above.`);
}

const bin = (pkg, file) => at('node_modules', pkg, file);

function buildApp() {
  buildIfStale('the app (electron-vite)', at('out', 'main', 'index.js'), ['electron', 'shared', 'renderer', 'assets'], process.execPath, [bin('electron-vite', 'bin/electron-vite.js'), 'build']);
}

function buildForBrowser() {
  buildIfStale('the UI (vite)', at('dist', 'renderer', 'index.html'), ['renderer', 'shared'], process.execPath, [bin('vite', 'bin/vite.js'), 'build', '--config', 'renderer/vite.config.mts', '--logLevel', 'warn']);
  buildIfStale('the engine (tsc)', at('dist', 'electron', 'cli', 'main.js'), ['electron', 'shared'], process.execPath, [bin('typescript', 'bin/tsc'), '-p', 'tsconfig.node.json']);
}

function launch(cmd, args) {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', env: cleanEnv() });
  // The terminal sends Ctrl+C to the child too; a kill aimed at this script is passed on.
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function main(argv) {
  const native = argv.indexOf('--native');
  if (native >= 0) {
    const target = argv[native + 1];
    if (target !== 'node' && target !== 'electron') throw new StartError('Use --native node or --native electron.');
    ensureNative(target);
    return;
  }
  const retry = argv.includes('--retry-download');
  const rest = argv.filter((a) => a !== '--retry-download');
  const electron = findElectron({ retry });
  if (electron.exe) {
    ensureNative('electron');
    buildApp();
    launch(electron.exe, ['.', ...rest]);
    return;
  }
  say(
    `Electron's runtime is not available on this machine, so the desktop window cannot open (${electron.reason}).\n` +
      (electron.remembered ? 'That was the last attempt for this Electron version; `npm start -- --retry-download` tries again.\n' : '') +
      'So Boxkeep serves the same UI to a browser instead: open the address printed below in a browser on this machine.',
  );
  ensureNative('node');
  buildForBrowser();
  launch(process.execPath, [at('bin', 'boxkeep.mjs'), 'serve', ...rest]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`npm start: ${err instanceof StartError ? err.message : err?.stack ?? err}\n`);
    process.exit(1);
  }
}
