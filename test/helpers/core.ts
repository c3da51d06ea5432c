// A real core on a temporary home, with a small imported image: what engine tests start from.
import fs from 'node:fs';
import path from 'node:path';
import { openCore, type Core } from '../../electron/core/core.js';
import type { Router } from '../../shared/transport.js';
import { createRouter } from '../../electron/core/router.js';
import { diskDigest, makeQcow2, requireTools, tempHome } from './disk.js';

export const MiB = 1024 * 1024;

export interface TestHome {
  dir: string;
  core: Core;
  router: Router;
  imageId: string;
  cleanup(): Promise<void>;
}

/** Opens a core on a fresh home and imports a 16 MiB image whose first MiB holds 0x11. */
export async function openTestHome(opts: { imageSize?: number } = {}): Promise<TestHome> {
  requireTools('qemu-img', 'qemu-io');
  const home = tempHome('bkt');
  const seed = path.join(home.dir, 'seed.qcow2');
  makeQcow2(seed, opts.imageSize ?? 16 * MiB);
  const { writePattern } = await import('./disk.js');
  writePattern(seed, 0, MiB, 0x11);
  const core = await openCore({ home: path.join(home.dir, 'home'), owner: 'test' });
  const router = createRouter(core);
  const image = await core.images.import({ path: seed, name: 'seed' });
  fs.rmSync(seed);
  return {
    dir: core.paths.root, core, router, imageId: image.id,
    async cleanup() {
      await core.close().catch(() => {});
      home.cleanup();
    },
  };
}

/** Digest of every snapshot of a box, by snapshot name. */
export function snapshotDigests(core: Core, boxId: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of core.store.listSnapshots(boxId)) out[s.name] = diskDigest(s.diskPath);
  return out;
}

/**
 * Each snapshot the listing shows (snapshots:list, as a client gets it) against what its files
 * take on disk now, read here with stat: its layer, and its picture and memory when it has them.
 */
export function listedAndRealSizes(core: Core, box: string): { listed: Record<string, number>; real: Record<string, number> } {
  const blocks = (file: string) => (fs.lstatSync(file, { throwIfNoEntry: false })?.blocks ?? 0) * 512;
  const tree = JSON.parse(JSON.stringify(core.snapshots.tree(box))) as ReturnType<Core['snapshots']['tree']>;
  const listed = Object.fromEntries(tree.snapshots.map((s) => [s.name, s.sizeOnDisk]));
  const real = Object.fromEntries(tree.snapshots.map((s) => {
    const folder = path.dirname(s.diskPath);
    return [s.name, blocks(s.diskPath) + blocks(path.join(folder, 'screen.png')) + (s.memory ? blocks(path.join(folder, 'memory.state')) : 0)];
  }));
  return { listed, real };
}
