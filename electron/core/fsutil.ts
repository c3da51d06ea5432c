// Durable file primitives. A rename is only durable once the directories on both sides are
// fsynced; every multi-file operation is built from these so a power cut cannot reorder steps.
import fs from 'node:fs';
import path from 'node:path';
import { BoxkeepError } from '../../shared/errors.js';

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
  writeReplacing(target, data, true);
}

/**
 * Replaces the file in one rename, but without the fsyncs: for notes that may be lost with a
 * power cut (the home's owner note: the kernel lock, not the note, is what excludes).
 */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  writeReplacing(target, data, false);
}

function writeReplacing(target: string, data: string | Uint8Array, durable: boolean): void {
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    // A leftover of this pid, or a link planted there: removed, never written through.
    fs.rmSync(tmp, { force: true });
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    try {
      fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (durable) renameDurable(tmp, target);
    else fs.renameSync(tmp, target);
  } catch (err) {
    // A full disk fails the write after the create: leave no half-written temporary behind.
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

// O_NONBLOCK: a FIFO put in a file's place opens at once instead of waiting for a writer
// forever; O_NOFOLLOW: a link put in its place is refused (ELOOP) rather than followed.
const READ_CONFINED = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);

/**
 * The regular file at that very path, opened for reading: neither a FIFO (which would hang),
 * nor a link (ELOOP), nor more than `maxBytes` (an Error). Returns what it is instead when it is
 * no regular file; ENOENT when it is not there. The caller closes the descriptor.
 */
export function openRegularFile(file: string, maxBytes: number): { fd: number; size: number } | { what: string } {
  const fd = fs.openSync(file, READ_CONFINED);
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (st.isFile() && st.size <= maxBytes) return { fd, size: st.size };
  fs.closeSync(fd);
  if (!st.isFile()) return { what: kindOf(st) };
  throw new Error(`larger than ${maxBytes} bytes (${st.size})`);
}

/**
 * A small file of the home read whole, as nothing but the regular file at that very path: a
 * home can be edited by hand, and what is read here must neither hang, nor leave the home
 * through a link, nor fill the memory. Returns what it is instead when it is no regular file;
 * throws ELOOP for a link, ENOENT when it is not there, and an Error past `maxBytes`.
 */
export function readRegularFile(file: string, maxBytes: number): Buffer | { what: string } {
  const opened = openRegularFile(file, maxBytes);
  if ('what' in opened) return opened;
  const { fd, size } = opened;
  try {
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}

/** What a thing on disk is, in words ("a file" for a regular one). */
export function kindOf(st: fs.Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'a device';
  return 'not a regular file';
}

export function mkdirDurable(dir: string): void {
  const existed = fs.existsSync(dir);
  fs.mkdirSync(dir, { recursive: true });
  if (!existed) fsyncDir(path.dirname(dir));
}

export function removeDurable(target: string): void {
  // lstat, not exists: a dangling symbolic link is removed too.
  const st = fs.lstatSync(target, { throwIfNoEntry: false });
  if (!st) return;
  // unlinkSync for anything but a folder: rmSync loads and runs its whole recursive remover.
  if (st.isDirectory()) fs.rmSync(target, { recursive: true, force: true });
  else {
    try {
      fs.unlinkSync(target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
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

/**
 * ENOSPC/EDQUOT from the OS, SQLITE_FULL from SQLite, or a tool's words for them (qemu-img
 * failures arrive as Storage errors quoting its stderr): the filesystem has no room left.
 */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
  return err instanceof BoxkeepError && err.code === 'Storage' && /No space left on device|Disk quota exceeded/.test(err.message);
}

const DISK_FULL = 'The disk holding ';

/** A full disk anywhere under the home said so, with what to do; any other error as it was. */
export function asDiskFull(home: string, err: unknown): unknown {
  return isDiskFull(err) ? diskFullError(path.resolve(home), err) : err;
}

/** What a user can do about a full disk: nothing in the home is damaged, it needs room. */
export function diskFullError(home: string, cause?: unknown): BoxkeepError {
  if (cause instanceof BoxkeepError && cause.message.startsWith(DISK_FULL)) return cause;
  const detail = cause instanceof BoxkeepError ? ` (What failed: ${cause.message})` : '';
  return new BoxkeepError('Storage', `${DISK_FULL}${home} is full. Free space in the filesystem of ${home} (delete or move files you do not need) and try again.${detail}`, { cause });
}

/** Bytes an unprivileged writer may still use on the filesystem holding `dir`; Infinity if unknown. */
/**
 * Below this, an intent record may not fit. Removals that need no record to be crash-safe
 * (nothing depends on what goes) then run without one, so a full disk can always be freed.
 */
const JOURNAL_ROOM = 64 * 1024;

export const noRoomForRecord = (dir: string) => freeBytes(dir) < JOURNAL_ROOM;

export function freeBytes(dir: string): number {
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
