// A real, small ext4 filesystem on a loop device, for full-disk tests. Made with `-m 0` so root
// (the test user here) gets no reserved blocks to dodge a full disk with.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTools } from './disk.js';

export interface LoopFs {
  /** Where the filesystem is mounted (empty, owned by the test user). */
  dir: string;
  /** Bytes still free to an unprivileged writer (statfs bavail). */
  free(): number;
  /** Writes a filler file until only `leave` bytes stay free (0: completely full). */
  fill(leave?: number): void;
  /** Deletes the filler again. */
  unfill(): void;
  /** Unmounts, detaches the loop device and deletes the backing file. Safe to call twice. */
  release(): void;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/**
 * Makes and mounts an ext4 filesystem of `mib` MiB. Throws with what is missing when this machine
 * cannot loop-mount (not root, no loop devices): a full-disk test must fail, never skip.
 */
export function makeLoopFs(mib: number): LoopFs {
  requireTools('mkfs.ext4', 'mount', 'umount', 'fallocate');
  if (process.getuid?.() !== 0) throw new Error('full-disk tests loop-mount a small filesystem and must run as root (mount -o loop)');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'bkfs-'));
  const image = path.join(base, 'fs.img');
  const dir = path.join(base, 'mnt');
  const filler = path.join(dir, 'filler');
  fs.mkdirSync(dir);
  let mounted = false;
  const release = () => {
    if (mounted) {
      const r = spawnSync('umount', [dir], { encoding: 'utf8' });
      // Busy (a process still holds a file there): detach lazily so the test run still ends clean.
      if (r.status !== 0) spawnSync('umount', ['-l', dir]);
      mounted = false;
    }
    fs.rmSync(base, { recursive: true, force: true });
  };
  try {
    fs.writeFileSync(image, '');
    fs.truncateSync(image, mib * 1024 * 1024);
    run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    try {
      run('mount', ['-o', 'loop', image, dir]);
    } catch (err) {
      throw new Error(`cannot loop-mount a test filesystem (is there a free /dev/loop* and may this user mount?): ${(err as Error).message}`);
    }
    mounted = true;
    fs.rmSync(path.join(dir, 'lost+found'), { recursive: true, force: true });
  } catch (err) {
    release();
    throw err;
  }
  const free = () => {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    fill(leave = 0) {
      fs.rmSync(filler, { force: true });
      // fallocate cannot take the last blocks (its extent tree needs some): leave a MiB to it,
      // then top up block by block until at the target.
      const bulk = free() - leave - 1024 * 1024;
      if (bulk > 0) run('fallocate', ['-l', String(bulk), filler]);
      const fd = fs.openSync(filler, 'a');
      try {
        const block = Buffer.alloc(4096);
        while (free() > leave) {
          try {
            fs.writeSync(fd, block, 0, Math.min(block.length, free() - leave));
            fs.fsyncSync(fd);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      } finally {
        fs.closeSync(fd);
      }
    },
    unfill() {
      fs.rmSync(filler, { force: true });
    },
    release,
  };
}
