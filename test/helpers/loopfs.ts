// A small real filesystem for disk-full tests: an ext4 image loop-mounted in a temp folder.
// Needs root (mount); when it cannot mount, it throws and says why: a disk-full test that
// skips proves nothing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTools } from './disk.js';

export interface LoopFs {
  /** The mounted filesystem's root. */
  dir: string;
  /** Bytes this process may still write there. */
  free(): number;
  /** Takes space with filler files until about `leaveBytes` are free (within one 4 KiB block). */
  fill(leaveBytes: number): void;
  /** Deletes the filler files again. */
  unfill(): void;
  /** Unmounts and deletes everything; safe to call twice. */
  release(): void;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim()}`);
}

/** A fresh `mib` MiB ext4 (no blocks reserved for root, so root fills it like anyone). */
export function makeLoopFs(mib: number): LoopFs {
  requireTools('mkfs.ext4', 'mount', 'umount');
  if (process.getuid?.() !== 0) throw new Error('This disk-full test loop-mounts a small filesystem and must run as root (mount -o loop); it cannot run as this user.');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bkfs-'));
  const image = path.join(tmp, 'fs.img');
  const dir = path.join(tmp, 'mnt');
  fs.mkdirSync(dir);
  let mounted = false;
  const fillers: string[] = [];
  const release = () => {
    if (mounted) {
      const r = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (r.status !== 0) spawnSync('umount', ['-l', dir]); // a straggling reader: detach now, freed when it closes
      mounted = false;
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  try {
    fs.closeSync(fs.openSync(image, "w"));
    fs.truncateSync(image, mib * 1024 * 1024);
    sh('mkfs.ext4', ['-q', '-m', '0', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
    try {
      sh('mount', ['-o', 'loop', image, dir]);
    } catch (err) {
      throw new Error(`Cannot loop-mount a test filesystem (needs root and loop devices): ${(err as Error).message}`);
    }
    mounted = true;
  } catch (err) {
    release();
    throw err;
  }
  const free = () => {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize;
  };
  return {
    dir,
    free,
    fill(leaveBytes) {
      // fallocate takes whole blocks and its own extent blocks: a few passes settle it.
      for (let pass = 0; pass < 4; pass++) {
        const extra = free() - leaveBytes;
        if (extra < 4096) return;
        const file = path.join(dir, `.filler-${fillers.length}`);
        fillers.push(file);
        sh('fallocate', ['-l', String(Math.floor(extra / 4096) * 4096 - (pass === 0 ? 64 * 1024 : 0)), file]);
      }
    },
    unfill() {
      for (const f of fillers.splice(0)) fs.rmSync(f, { force: true });
    },
    release,
  };
}
