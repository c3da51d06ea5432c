// Helpers for tests that touch disks. They use qemu-img/qemu-io directly (never our own wrapper),
// so tests cross-check the code under test against an independent reader.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { killQemuUnder } from './leftover-qemu.js';

const PACKAGE_OF: Record<string, string> = {
  'qemu-img': 'qemu-utils',
  'qemu-io': 'qemu-utils',
  'qemu-nbd': 'qemu-utils',
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static',
  'mkfs.ext4': 'e2fsprogs',
  mke2fs: 'e2fsprogs',
  cpio: 'cpio',
  genisoimage: 'genisoimage',
  isoinfo: 'genisoimage',
  openssl: 'openssl',
  python3: 'python3',
  guestfish: 'libguestfs-tools',
  'qemu-storage-daemon': 'qemu-system-common',
  sfdisk: 'fdisk',
};

/** Call in beforeAll. A missing tool fails the test loudly: a skipped disk test proves nothing. */
export function requireTools(...names: string[]): void {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of names) {
    const found = dirs.some((dir) => {
      try {
        fs.accessSync(path.join(dir, name), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (found) continue;
    const pkg = PACKAGE_OF[name];
    const how = pkg ? `install it with: sudo apt-get install ${pkg}` : 'install it with your package manager';
    throw new Error(`${name} is required for this test but was not found on PATH; ${how}`);
  }
}

/** Short on purpose: QMP and serial socket paths under it must stay below 108 bytes. */
export function tempHome(prefix = 'bk'): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  // A QEMU a failed test left running (or paused at -S) is killed first, not orphaned.
  return {
    dir,
    cleanup: () => {
      const killed = killQemuUnder(dir);
      if (killed.length) console.error(`killed a QEMU left running in ${dir}: pid ${killed.join(', ')}`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a file of disk tests: checks the tools and makes one temp home (beforeAll), removes it
 * (afterAll); each call of the returned function is a fresh directory of it, which keeps file
 * names short and tests independent.
 */
export function perTestDirs(prefix: string, ...tools: string[]): () => (name: string) => string {
  let home: ReturnType<typeof tempHome> | undefined;
  let n = 0;
  beforeAll(() => {
    requireTools(...tools);
    home = tempHome(prefix);
  });
  afterAll(() => home?.cleanup());
  return () => {
    const d = path.join(home!.dir, String(++n));
    fs.mkdirSync(d);
    return (name) => path.join(d, name);
  };
}

function run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function runOk(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export function makeQcow2(file: string, size: string | number): void {
  runOk('qemu-img', ['create', '-q', '-f', 'qcow2', file, String(size)]);
}

export function writePattern(file: string, offset: number, length: number, byte: number, opts?: { format?: 'qcow2' | 'raw' }): void {
  const out = runOk('qemu-io', ['-f', opts?.format ?? 'qcow2', '-c', `write -P ${byte} ${offset} ${length}`, file]);
  if (/failed/i.test(out)) throw new Error(`qemu-io write to ${file} failed: ${out.trim()}`);
}

/** True when every byte of [offset, offset+length) equals `byte`. */
export function readPattern(file: string, offset: number, length: number, byte: number, opts?: { format?: 'qcow2' | 'raw' }): boolean {
  const r = run('qemu-io', ['-r', '-f', opts?.format ?? 'qcow2', '-c', `read -P ${byte} ${offset} ${length}`, file]);
  if (r.stdout.includes('Pattern verification failed')) return false;
  if (r.status !== 0) throw new Error(`qemu-io read of ${file} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return true;
}

/** sha256 of the guest-visible content: the whole virtual disk as the guest would read it. */
export function diskDigest(file: string, opts?: { shareLocked?: boolean; format?: 'qcow2' | 'raw' }): string {
  const format = opts?.format ?? 'qcow2';
  if (format === 'raw') return hashFile(file);
  const tmp = path.join(fs.mkdtempSync(path.join(scratchDir(), 'dg-')), 'flat.raw');
  try {
    runOk('qemu-img', ['convert', ...(opts?.shareLocked ? ['-U'] : []), '-f', 'qcow2', '-O', 'raw', file, tmp]);
    return hashFile(tmp);
  } finally {
    fs.rmSync(path.dirname(tmp), { recursive: true, force: true });
  }
}

let scratch: string | undefined;
/** tmpfs when there is one: converting 64 MiB to ext4 took ~360 ms under load, to /dev/shm ~160 ms
 *  (qemu-img cannot write raw to a pipe: it insists on resizing its output). */
function scratchDir(): string {
  if (scratch === undefined) {
    try {
      fs.accessSync('/dev/shm', fs.constants.W_OK);
      scratch = '/dev/shm';
    } catch {
      scratch = os.tmpdir();
    }
  }
  return scratch;
}

export function hashFile(file: string): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** The backing name exactly as the header records it, read by qemu-img (not by our parser). */
export function backingOf(file: string): string | null {
  const j = JSON.parse(runOk('qemu-img', ['info', '-U', '-f', 'qcow2', '--output=json', file])) as Record<string, unknown>;
  const b = j['backing-filename'];
  return typeof b === 'string' && b !== '' ? b : null;
}
