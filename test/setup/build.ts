// vitest globalSetup: builds the Node code (tsc -p tsconfig.node.json → dist/) once per run,
// and only when a source is newer than the last build, because tests that spawn bin/boxkeep.mjs
// run what is in dist/, not what is in the editor. Several engineers (and vitest projects) may
// start runs at once: a lock folder makes them build one at a time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = path.join(ROOT, 'tsconfig.node.json');
const STAMP = path.join(ROOT, 'dist', '.build-stamp');
const LOCK = path.join(ROOT, '.cache', 'build.lock');
const LOCK_WAIT_MS = 180_000;

export default async function setup(): Promise<void> {
  if (!needsBuild()) return;
  await withLock(async () => {
    // Someone else may have built while this run waited for the lock.
    if (needsBuild()) build();
  });
}

/** True when dist/ is missing or any input of the build changed after the last one started. */
export function needsBuild(): boolean {
  const built = mtime(STAMP);
  if (built === null) return true;
  return newestInput() > built;
}

function newestInput(): number {
  let newest = Math.max(mtime(CONFIG) ?? 0, mtime(path.join(ROOT, 'tsconfig.base.json')) ?? 0, mtime(path.join(ROOT, 'package.json')) ?? 0);
  for (const dir of includedDirs()) {
    for (const file of walk(path.join(ROOT, dir))) newest = Math.max(newest, mtime(file) ?? 0);
  }
  return newest;
}

/** The folders tsconfig.node.json builds, read from its "include" (`dir/**\/*.ts` patterns). */
function includedDirs(): string[] {
  const config = JSON.parse(fs.readFileSync(CONFIG, 'utf8')) as { include?: string[] };
  return (config.include ?? []).map((pattern) => pattern.split('/**')[0]).filter((dir) => !dir.includes('*'));
}

function* walk(dir: string): Generator<string> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.name.endsWith('.ts')) yield full;
  }
}

function mtime(file: string): number | null {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

function build(): void {
  const started = Date.now();
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', CONFIG], { cwd: ROOT, encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.error) throw new Error(`Could not run the TypeScript compiler (${tsc}): ${r.error.message}. Is node_modules installed?`);
  // tsc emits JavaScript even when types are wrong; only missing output makes tests meaningless.
  if (!fs.existsSync(path.join(ROOT, 'dist', 'electron', 'cli', 'main.js'))) {
    throw new Error(`Building the Node code (tsc -p tsconfig.node.json) produced no dist/electron/cli/main.js:\n${output}`);
  }
  if (r.status !== 0) {
    process.stderr.write(`\n[build] tsc -p tsconfig.node.json reported type errors; tests run the JavaScript it emitted anyway:\n${output}\n\n`);
  }
  // bin/boxkeep.mjs runs the bundle made from that output.
  const bundle = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'bundle-cli.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (bundle.status !== 0) throw new Error(`Bundling the CLI (scripts/bundle-cli.mjs) failed:\n${bundle.stdout}${bundle.stderr}`);
  fs.writeFileSync(STAMP, `built ${new Date(started).toISOString()}\n`);
  // Stamp the start, not the end: a file saved during the build is newer and triggers the next one.
  fs.utimesSync(STAMP, new Date(started), new Date(started));
  process.stderr.write(`[build] dist/ rebuilt in ${Date.now() - started} ms\n`);
}

async function withLock(work: () => Promise<void>): Promise<void> {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (holderIsGone()) {
        fs.rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`Waited ${LOCK_WAIT_MS / 1000} s for another build to finish (lock ${LOCK}); remove it if no build is running.`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    await work();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

/** A lock whose owner died mid-build would block every later run. */
function holderIsGone(): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(LOCK, 'pid'), 'utf8'));
  } catch {
    // Just created, pid not written yet; or left empty by a crash. Judge by age.
    return Date.now() - (mtime(LOCK) ?? Date.now()) > 10_000;
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
