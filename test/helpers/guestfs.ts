// Fixture disks for the tests of looking inside snapshots: ext4 filesystems made on the host
// with mkfs.ext4 -d (a raw image, converted to qcow2); offline changes to a box's live disk
// are in edit-disk.ts. Also what tells whether an appliance still holds a disk.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { createRouter } from '../../electron/core/router.js';
import type { Router } from '../../shared/transport.js';
import { requireTools, tempHome } from './disk.js';

function runOk(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
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

/** Every live process (not a zombie) with its process group. */
function liveProcesses(): { pid: number; pgrp: number }[] {
  const out: { pid: number; pgrp: number }[] = [];
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') out.push({ pid: Number(pid), pgrp: Number(pgrp) });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** The live processes with `file` open, by pid: a disk an appliance's QEMU still holds shows here. */
export function holdersOf(file: string): number[] {
  const linkOf = (fd: string) => {
    try {
      return fs.readlinkSync(fd);
    } catch {
      return null; // Closed meanwhile, or not ours to read.
    }
  };
  const fds = (pid: number) => {
    try {
      return fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      return [];
    }
  };
  return liveProcesses().filter(({ pid }) => fds(pid).some((fd) => linkOf(`/proc/${pid}/fd/${fd}`) === file)).map((p) => p.pid);
}

/** The live processes of a process group (an appliance's guestfish leads one). */
export function groupMembers(pgid: number): number[] {
  return liveProcesses().filter((p) => p.pgrp === pgid).map((p) => p.pid);
}

/** Waits (a few seconds at most) until `check` is true; a process's exit is seen a moment after the kill. */
export async function eventually(check: () => boolean, ms = 15_000): Promise<boolean> {
  for (const until = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > until) return false;
  }
  return true;
}

/** A real core and router on a fresh home for the tests of one file (beforeAll/afterAll); `dir` holds fixture files beside the home. */
export function insideHome(prefix: string): { readonly core: Core; readonly router: Router; readonly dir: string; reopen(): Promise<void> } {
  const t = {} as { core: Core; router: Router; dir: string; home: ReturnType<typeof tempHome>; reopen(): Promise<void> };
  const open = async () => {
    t.core = await openCore({ home: path.join(t.dir, 'home'), owner: 'test' });
    t.router = createRouter(t.core);
  };
  /** Quits and opens the home again, as a person closing and starting the app. */
  t.reopen = async () => {
    await t.core.close();
    await open();
  };
  beforeAll(async () => {
    requireTools('qemu-img', 'qemu-io', 'mkfs.ext4', 'guestfish');
    t.home = tempHome(prefix);
    t.dir = t.home.dir;
    await open();
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
