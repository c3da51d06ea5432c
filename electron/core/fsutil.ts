// Durable file primitives. A rename is only durable once the directories on both sides are
// fsynced; every multi-file operation is built from these so a power cut cannot reorder steps.
import fs from 'node:fs';
import path from 'node:path';

export function fsyncPath(target: string): void {
  const fd = fs.openSync(target, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function fsyncDir(dir: string): void {
  try {
    fsyncPath(dir);
  } catch (err) {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL' && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
  }
}

export function renameDurable(from: string, to: string): void {
  fs.renameSync(from, to);
  fsyncDir(path.dirname(to));
  if (path.dirname(from) !== path.dirname(to)) fsyncDir(path.dirname(from));
}

/** Writes through a temporary file and an atomic rename: readers see the old or the new content. */
export function writeFileDurable(target: string, data: string | Uint8Array): void {
  const tmp = `${target}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  renameDurable(tmp, target);
}

export function mkdirDurable(dir: string): void {
  const existed = fs.existsSync(dir);
  fs.mkdirSync(dir, { recursive: true });
  if (!existed) fsyncDir(path.dirname(dir));
}

export function removeDurable(target: string): void {
  if (!fs.existsSync(target)) return;
  fs.rmSync(target, { recursive: true, force: true });
  fsyncDir(path.dirname(target));
}

export function exists(target: string): boolean {
  return fs.existsSync(target);
}

/** Bytes a file takes on disk (its allocated blocks), 0 when it is not there. */
export function sizeOnDisk(file: string): number {
  try {
    return (fs.statSync(file, { throwIfNoEntry: false })?.blocks ?? 0) * 512;
  } catch {
    return 0;
  }
}
