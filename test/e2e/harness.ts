// The e2e rig: a temporary home prepared through the real engine, `boxkeep serve` on it as a
// child process (URL read from its stdout), the renderer built for it, and Debian's Chromium
// driven by playwright-core. Nothing is mocked. A missing tool fails loudly, never skips.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { openCore, type Core } from '../../electron/core/core.js';
import { makeQcow2, requireTools } from '../helpers/disk.js';
import { buildGuest, GUEST_APPEND, makeDataDisk } from '../helpers/guest.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = '/usr/lib/chromium/chromium';
export const ARTIFACTS = path.join(REPO, 'test-artifacts');
const RENDERER_OUT = path.join(REPO, '.cache', 'e2e', 'renderer');
const RENDERER_LOCK = path.join(REPO, '.cache', 'e2e', 'renderer.lock');
/** Written after a production build; a cache without it predates that and is rebuilt. */
const BUILD_MODE = path.join(RENDERER_OUT, '.production');

/** Call in beforeAll: the binaries every e2e test drives. */
export function requireE2eTools(): void {
  requireTools('qemu-img', 'qemu-io');
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    throw new Error(`Chromium is required for the e2e tests but ${CHROMIUM} is missing; install it with: sudo apt-get install chromium`);
  }
  if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.cjs'))) {
    throw new Error('The boxkeep CLI is not built (dist/cli/main.cjs); the vitest global setup builds it: run the tests through vitest, or `npm run build:node`.');
  }
}

// ---------------------------------------------------------------- renderer build

/** Builds the renderer into .cache/e2e/renderer when any of its sources is newer than the build. */
export async function buildRenderer(): Promise<string> {
  if (!rendererStale()) return RENDERER_OUT;
  await withLock(RENDERER_LOCK, async () => {
    if (!rendererStale()) return;
    const vite = path.join(REPO, 'node_modules', 'vite', 'bin', 'vite.js');
    const r = spawnSync(process.execPath, [vite, 'build', '--config', 'renderer/vite.config.mts', '--outDir', RENDERER_OUT, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: REPO,
      encoding: 'utf8',
      // vitest sets NODE_ENV=test, and vite builds whatever NODE_ENV says: without this the
      // tests would drive React's development build (StrictMode effects run twice), not the app.
      env: { ...process.env, NODE_ENV: 'production' },
    });
    if (r.status !== 0) throw new Error(`The renderer build failed:\n${r.stderr || r.stdout}`);
    fs.writeFileSync(BUILD_MODE, 'production\n');
  });
  return RENDERER_OUT;
}

function rendererStale(): boolean {
  const built = mtime(path.join(RENDERER_OUT, 'index.html'));
  if (built === null || !fs.existsSync(BUILD_MODE)) return true;
  const inputs = [...walk(path.join(REPO, 'renderer')), ...walk(path.join(REPO, 'shared')), path.join(REPO, 'package.json')];
  return inputs.some((f) => (mtime(f) ?? 0) > built);
}

function* walk(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(full);
    else yield full;
  }
}

function mtime(file: string): number | null {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

async function withLock(dir: string, work: () => Promise<void>): Promise<void> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      break;
    } catch {
      // A lock older than two minutes belongs to a build that died.
      if ((mtime(dir) ?? Date.now()) < Date.now() - 120_000) fs.rmSync(dir, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`Waited 2 minutes for another renderer build (lock ${dir}).`);
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    await work();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- homes

export interface TestHome {
  dir: string;
  home: string;
  cleanup(): void;
}

/** A temporary home (short path: socket paths under it must stay below 108 bytes). */
export function newHome(): TestHome {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bke-'));
  return { dir, home: path.join(dir, 'home'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `work` on the real engine of a home nobody else holds, then lets go of it. */
export async function withCore<T>(home: string, work: (core: Core) => Promise<T>): Promise<T> {
  const core = await openCore({ home, owner: 'test' });
  try {
    return await work(core);
  } finally {
    await core.close();
  }
}

/** A qcow2 image file of `size` in the test's folder, for importing. */
export function imageFile(t: TestHome, name: string, size = '64M'): string {
  const file = path.join(t.dir, `${name}.qcow2`);
  makeQcow2(file, size);
  return file;
}

/**
 * An image the tiny test guest boots from (scripts/build-guest.mjs: kernel + busybox initramfs,
 * an ext4 data disk). For the running-box e2e tests, which need the VM supervisor: a box made
 * from it starts for real under `boxkeep serve`.
 */
export async function importGuestImage(core: Core, t: TestHome, name = 'guest', append = GUEST_APPEND): Promise<string> {
  requireTools('qemu-system-x86_64', 'busybox', 'mkfs.ext4', 'cpio');
  const guest = buildGuest();
  const disk = makeDataDisk(path.join(t.dir, `${name}.qcow2`), 64, { 'hello.txt': 'hello from the guest\n' });
  const image = await core.images.import({ path: disk, name, kernelPath: guest.kernel, initrdPath: guest.initrd, append });
  return image.id;
}

// ---------------------------------------------------------------- boxkeep serve

export interface Served {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Extra environment for the serve process (e.g. BOXKEEP_STOP_TIMEOUT_MS). */
  env?: Record<string, string>;
  /** Extra arguments after `serve` (e.g. ['--port', '0']). */
  args?: string[];
}

export async function serve(home: string, rendererDir: string, opts: ServeOptions = {}): Promise<Served> {
  const child = spawn(process.execPath, [path.join(REPO, 'bin', 'boxkeep.mjs'), 'serve', ...(opts.args ?? [])], {
    cwd: REPO,
    env: { ...process.env, BOXKEEP_HOME: home, BOXKEEP_RENDERER_DIR: rendererDir, BOXKEEP_LOG: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`boxkeep serve printed no URL within 30 s:\n${out}`)), 30_000);
    const look = () => {
      const m = /Boxkeep is at (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', look);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`boxkeep serve exited with ${code} before printing its URL:\n${out}`));
    });
  });
  return { url, output: () => out, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------- the whole app

export interface App {
  t: TestHome;
  served: Served;
  b: Browser;
  page: Page;
  close(): Promise<void>;
}

/**
 * What most e2e files start from: a fresh home filled by `seed` on the real engine, served by
 * `boxkeep serve`, open in Chromium. A failure on the way lets go of what was made so far.
 */
export async function openApp(seed: (core: Core, t: TestHome) => Promise<void>, opts: ServeOptions = {}): Promise<App> {
  requireE2eTools();
  const rendererDir = await buildRenderer();
  const t = newHome();
  let served: Served | undefined;
  try {
    await withCore(t.home, (core) => seed(core, t));
    served = await serve(t.home, rendererDir, opts);
    const b = await openBrowser(served.url);
    const running = served;
    return {
      t, served: running, b, page: b.page,
      async close() {
        await b.close();
        await running.stop();
        t.cleanup();
      },
    };
  } catch (err) {
    await served?.stop();
    t.cleanup();
    throw err;
  }
}

// ---------------------------------------------------------------- browser

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors (CSP violations show up here). */
  problems: string[];
  close(): Promise<void>;
}

export async function openBrowser(
  url: string,
  opts: { colorScheme?: 'light' | 'dark'; width?: number; height?: number; /** Runs before the page loads (to watch its traffic from the start). */ beforeLoad?: (page: Page) => void } = {},
): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bke-chrome-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    colorScheme: opts.colorScheme ?? 'light',
    reducedMotion: 'reduce',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  opts.beforeLoad?.(page);
  await page.goto(url);
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

const AXE_SOURCE = () => fs.readFileSync(path.join(REPO, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe-core on the page as it is. Injected through the DevTools protocol, which the page's
 * CSP does not govern, so the page under test keeps its real policy. Serious and critical
 * violations fail the test with a readable list; lesser ones are returned for the log.
 */
export async function expectAccessible(page: Page, screen: string): Promise<AxeViolation[]> {
  // Page-side code: the Node typecheck has no DOM lib, so the browser's globals are reached untyped.
  const loaded = await page.evaluate(() => typeof (globalThis as any).axe === 'object');
  if (!loaded) await page.evaluate(AXE_SOURCE());
  const violations = (await page.evaluate(async () => {
    const g = globalThis as any;
    const result = await g.axe.run(g.document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations;
  })) as AxeViolation[];
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) {
    const text = bad.map((v) => `- [${v.impact}] ${v.id}: ${v.help}\n${v.nodes.slice(0, 4).map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').join(' ')}`).join('\n')}`).join('\n');
    throw new Error(`axe found ${bad.length} serious/critical accessibility problem(s) on the ${screen} screen:\n${text}`);
  }
  return violations;
}

/** Fails with what the page complained about (uncaught errors, CSP violations). */
export function expectNoPageProblems(b: Browser): void {
  if (b.problems.length > 0) throw new Error(`The page reported problems:\n${b.problems.join('\n')}`);
}

/** Live disk of a box, as the design fixes it. */
export const liveDisk = (home: string, boxId: string) => path.join(home, 'boxes', boxId, 'disks', 'container.qcow2');
