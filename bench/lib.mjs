// Shared bench helpers: medians, a floor to compare with, and one output format.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** The tiny test guest (kernel, initrd), built or found by scripts/build-guest.mjs. */
export function guest() {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  return JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs')], { encoding: 'utf8' }).trim().split('\n').pop());
}

/** Until the guest printed its ready line in the serial log past `from`. */
export async function waitReady(log, from, ms = 180_000) {
  const end = Date.now() + ms;
  while (!(fs.existsSync(log) && fs.readFileSync(log, 'latin1').slice(from).includes('BOXKEEP-GUEST-READY'))) {
    if (Date.now() > end) throw new Error('guest did not get ready');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function requireBuilt() {
  if (!fs.existsSync(new URL('../dist/electron/core/core.js', import.meta.url))) {
    console.error('bench: dist/ is missing; run "npm run build:node" first.');
    process.exit(1);
  }
}

/** Folders tempDir() made that are still there: an interrupted bench cleans them up on its way out. */
const temps = new Set();

export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (temps.size === 0) onInterrupt();
  temps.add(dir);
  return dir;
}

/**
 * Ctrl-C or a kill skips every `finally`: the QEMUs a bench started would run on, detached,
 * and its folders stay. On SIGINT/SIGTERM, kill the QEMU each home under those folders
 * records (never by name: other QEMUs run here), remove the folders, and exit as the signal.
 */
function onInterrupt() {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      const { killQemuUnder } = await import('../dist/electron/core/vm/leftover-qemu.js');
      for (const dir of temps) {
        if (!fs.existsSync(dir)) continue;
        const killed = killQemuUnder(dir);
        if (killed.length) console.error(`bench: interrupted; stopped the QEMU it started (pid ${killed.join(', ')})`);
        fs.rmSync(dir, { recursive: true, force: true });
      }
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

export function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function timeIt(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Stops every box still running, closes the core, removes the bench's folder: a failed run must
 *  not leave guests behind (the core lets QEMUs outlive it by design). */
export async function closeVmBench(core, dir) {
  for (const b of core.boxes.list()) {
    if (['running', 'paused', 'stopping'].includes(b.status)) await core.vms.stop(b.id, { force: true }).catch(() => undefined);
  }
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

export const round = (x) => (x === null ? null : Math.round(x * 100) / 100);

/** One result row: {name, median_ms, floor_ms, ratio, target}. */
export function row(name, samples, floorSamples, target, extra = {}) {
  const m = median(samples);
  const f = floorSamples ? median(floorSamples) : null;
  return { name, median_ms: round(m), floor_ms: round(f), ratio: f ? round(m / f) : null, target, ...extra };
}

export function print(rows, json) {
  if (json) {
    process.stdout.write(JSON.stringify(rows, null, 1) + '\n');
    return;
  }
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'benchmark'.padEnd(w)}  ${'median ms'.padStart(10)}  ${'floor ms'.padStart(9)}  ${'ratio'.padStart(6)}  target`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(w)}  ${String(r.median_ms).padStart(10)}  ${String(r.floor_ms ?? '-').padStart(9)}  ${String(r.ratio ?? '-').padStart(6)}  ${r.target}`);
  }
}
