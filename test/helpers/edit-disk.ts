// Offline changes to a stopped box's disk for the look-inside tests, made on the host in a
// second instead of through a libguestfs appliance (20-60 s a launch under TCG): the qcow2 (its
// backing chain read-only beneath it) is served as a raw disk by qemu-storage-daemon's FUSE
// export, so QEMU's own qcow2 driver writes the layer as the appliance's QEMU would; the
// filesystem on it is loop-mounted, changed with plain file calls, unmounted, and the daemon
// stopped (it flushes the layer) before this returns, also when the change fails. Only disks
// these tests made are mounted so: the product never mounts a guest filesystem on the host.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTools } from './disk.js';

const SECTOR = 512;

function runOk(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, env: { ...process.env, LC_ALL: 'C' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

const mounted = (at: string) => fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === at);

async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** A partition of an MBR disk: its first sector and its length in sectors. */
export interface Extent {
  start: number;
  sectors: number;
}

/**
 * Mounts the ext4 filesystem of `disk` (the whole disk, or `partition`) read-write on the host,
 * runs `edit` with its root folder, and puts everything away again.
 */
export async function editDisk(disk: string, edit: (root: string) => void | Promise<void>, opts: { partition?: Extent } = {}): Promise<void> {
  requireTools('qemu-storage-daemon', 'mount', 'umount');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-edit-'));
  const raw = path.join(work, 'raw');
  const root = path.join(work, 'root');
  fs.writeFileSync(raw, '');
  fs.mkdirSync(root);
  const daemon = spawn('qemu-storage-daemon', [
    '--blockdev', `driver=file,node-name=file0,filename=${disk}`,
    '--blockdev', 'driver=qcow2,node-name=disk0,file=file0',
    '--export', `type=fuse,id=exp0,node-name=disk0,mountpoint=${raw},writable=on`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  daemon.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  try {
    await until(() => mounted(raw) || daemon.exitCode !== null, 'the FUSE export');
    if (!mounted(raw)) throw new Error(`qemu-storage-daemon could not export ${disk}: ${stderr.trim()}`);
    const p = opts.partition;
    const loop = p ? `loop,offset=${p.start * SECTOR},sizelimit=${p.sectors * SECTOR}` : 'loop';
    runOk('mount', ['-t', 'ext4', '-o', loop, raw, root]);
    try {
      await edit(root);
    } finally {
      runOk('umount', [root]);
    }
  } finally {
    daemon.kill('SIGTERM');
    await exited;
    if (mounted(raw)) spawnSync('umount', ['-l', raw]);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A qcow2 of `sizeMiB` with an MBR of ext4 partitions, each holding its files (name → content); made on the host. */
export function makePartitionedQcow2(file: string, sizeMiB: number, parts: { at: Extent; files: Record<string, string> }[]): string {
  requireTools('sfdisk', 'mkfs.ext4', 'qemu-img');
  const raw = `${file}.raw`;
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-parts-'));
  try {
    fs.writeFileSync(raw, '');
    fs.truncateSync(raw, sizeMiB * 1024 * 1024);
    runOk('sfdisk', ['-q', raw], `label: dos\n${parts.map(({ at }) => `${at.start},${at.sectors},83`).join('\n')}\n`);
    for (const [i, { at, files }] of parts.entries()) {
      const dir = path.join(src, String(i));
      fs.mkdirSync(dir);
      for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
      runOk('mkfs.ext4', ['-q', '-F', '-E', `offset=${at.start * SECTOR}`, '-d', dir, raw, `${(at.sectors * SECTOR) / 1024}k`]);
    }
    runOk('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, file]);
    return file;
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(raw, { force: true });
  }
}
