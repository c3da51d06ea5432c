// Fixture disks for the tests of looking inside snapshots: ext4 filesystems made on the host
// with mkfs.ext4 -d (a raw image, converted to qcow2), and offline changes made with guestfish
// on a box's live disk while it is stopped. The product never mounts a guest filesystem on the
// host; neither do these helpers.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { createRouter } from '../../electron/core/router.js';
import type { Router } from '../../shared/transport.js';
import { requireTools, tempHome } from './disk.js';

export const GUESTFS_ENV = { LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg', LC_ALL: 'C' };

function runOk(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export type TreeSpec = Record<string, string | { link: string } | { dir: true }>;

/**
 * An ext4 qcow2 of `sizeMiB` holding `tree` (path → content, a link, or an empty folder); every
 * mtime set to `mtime` (s). `prepare` may add what a TreeSpec cannot say (names that are not UTF-8).
 */
export function makeExt4Qcow2(file: string, sizeMiB: number, tree: TreeSpec, mtime = 1_700_000_000, prepare?: (src: string) => void): string {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-ext4-'));
  const raw = `${file}.raw`;
  try {
    for (const [name, what] of Object.entries(tree)) {
      const target = path.join(src, name);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (typeof what === 'string') fs.writeFileSync(target, what);
      else if ('link' in what) fs.symlinkSync(what.link, target);
      else fs.mkdirSync(target, { recursive: true });
    }
    prepare?.(src);
    runOk('find', [src, '-exec', 'touch', '-h', '-d', `@${mtime}`, '{}', '+']);
    runOk('truncate', ['-s', `${sizeMiB}M`, raw]);
    runOk('mkfs.ext4', ['-q', '-F', '-d', src, raw]);
    runOk('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, file]);
    return file;
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(raw, { force: true });
  }
}

/** Runs guestfish commands (`:`-separated argv) read-write on a qcow2; the disk must not be in use. */
export function guestfish(disk: string, commands: string[][], opts: { format?: 'qcow2' | 'raw' } = {}): string {
  const args = ['--format=' + (opts.format ?? 'qcow2'), '-a', disk, 'run'];
  for (const c of commands) args.push(':', ...c);
  return runOk('guestfish', args, GUESTFS_ENV);
}

/** A real core and router on a fresh home for the tests of one file (beforeAll/afterAll); `dir` holds fixture files beside the home. */
export function insideHome(prefix: string): { readonly core: Core; readonly router: Router; readonly dir: string } {
  const t = {} as { core: Core; router: Router; dir: string; home: ReturnType<typeof tempHome> };
  beforeAll(async () => {
    requireTools('qemu-img', 'qemu-io', 'mkfs.ext4', 'guestfish');
    t.home = tempHome(prefix);
    t.dir = t.home.dir;
    t.core = await openCore({ home: path.join(t.dir, 'home'), owner: 'test' });
    t.router = createRouter(t.core);
  });
  afterAll(async () => {
    await t.core?.close().catch(() => {});
    t.home?.cleanup();
  });
  return t;
}

/** A box made from a disk file (imported as an image of the same name). */
export async function boxFrom(core: Core, disk: string, name: string) {
  await core.images.import({ path: disk, name });
  return core.boxes.create({ name, image: name });
}
