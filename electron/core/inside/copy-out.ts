// Taking a file or folder out of a guest filesystem onto the host. Names come from the guest
// and are untrusted: each component is checked before it becomes part of a host path, and the
// joined path must stay inside the destination. Nothing is ever written through a link: the
// copy is built in a fresh private folder beside the destination (files made O_EXCL, links
// made as links, never followed; each folder checked to be still the one made, so a folder of
// it swapped for a link mid-copy stops the copy), then moved into place by link() or by a
// rename onto a folder just made by mkdir(), both of which refuse anything already there.
import fs from 'node:fs';
import path from 'node:path';
import { alreadyExists, invalidArgument, storageError } from '../../../shared/errors.js';
import type { FileCopyResult, GuestEntry } from '../../../shared/types.js';
import { quote, type Appliance } from './appliance.js';
import { guestNameBytes, hasRawBytes } from './guest-names.js';
import { join, listTree } from './tree.js';

/** Why a guest name may not become a host path component, or null when it may. */
export function nameProblem(name: string): string | null {
  if (name === '' || name === '.' || name === '..') return `the name ${JSON.stringify(name)} is not a file name`;
  if (name.includes('/') || name.includes('\0')) return `the name ${JSON.stringify(name)} holds a "/" or a NUL`;
  if (guestNameBytes(name).length > 255) return 'the name is longer than 255 bytes';
  // The host would store a different name (U+FFFD for each such byte), which another guest name may already have.
  if (hasRawBytes(name)) return `the name ${JSON.stringify(name)} is not UTF-8`;
  return null;
}

/** The host path for a guest path below `root` (guest path relative to what is copied), or a reason it has none. */
export function hostPathFor(root: string, relative: string): string | { problem: string } {
  const parts = relative.split('/').filter((p, i) => !(i === 0 && p === ''));
  for (const part of parts) {
    const problem = nameProblem(part);
    if (problem) return { problem };
  }
  const target = path.join(root, ...parts);
  if (target !== root && !target.startsWith(root + path.sep)) return { problem: 'it would land outside the destination' };
  return target;
}

/**
 * Copies `entry` (a file, a link, or a folder with all below it) to `destination`, which must
 * not exist; when it is an existing folder, the copy goes inside it under the entry's name.
 */
export async function copyOut(app: Appliance, mountpoint: string, entry: GuestEntry, destination: string): Promise<FileCopyResult> {
  // Else "copied" would be answered with nothing at the destination.
  if (entry.kind === 'other') throw invalidArgument(`${entry.path} is a device, socket or pipe; only files, folders and links are copied out.`);
  let dest = path.resolve(destination);
  const st = fs.lstatSync(dest, { throwIfNoEntry: false });
  if (st?.isDirectory()) {
    const base = entry.path === '/' ? 'root' : entry.path.split('/').pop()!;
    const problem = nameProblem(base);
    if (problem) throw invalidArgument(`The guest file cannot be saved under its own name: ${problem}. Give a destination that does not exist yet.`);
    dest = path.join(dest, base);
  }
  if (fs.lstatSync(dest, { throwIfNoEntry: false })) throw alreadyExists(`${dest} already exists; Boxkeep does not overwrite it. Give a new path with -o.`);
  const parent = path.dirname(dest);
  if (!fs.lstatSync(parent, { throwIfNoEntry: false })?.isDirectory()) throw invalidArgument(`The folder ${parent} does not exist (or is not a folder); make it first.`);

  // Real path, so that where the kernel says a file or folder lies can be compared with where it should.
  const staging = fs.realpathSync(fs.mkdtempSync(path.join(parent, '.boxkeep-get-')));
  const result: FileCopyResult = { destination: dest, files: 0, folders: 0, links: 0, bytes: 0, skipped: [] };
  try {
    const top = path.join(staging, 'x');
    const folderModes: [string, number][] = [];
    await place(app, mountpoint, entry, top, result, folderModes);
    if (entry.kind === 'dir') {
      const below = await listTree(app, mountpoint, entry.path);
      const prefix = entry.path === '/' ? '' : entry.path;
      for (const e of below) {
        const target = hostPathFor(top, e.path.slice(prefix.length));
        if (typeof target !== 'string') {
          result.skipped.push(`${e.path}: ${target.problem}`);
          continue;
        }
        // A folder skipped above leaves no parent: everything under it is skipped with it.
        if (!fs.lstatSync(path.dirname(target), { throwIfNoEntry: false })?.isDirectory()) {
          result.skipped.push(`${e.path}: its folder was not copied`);
          continue;
        }
        await place(app, mountpoint, e, target, result, folderModes);
      }
    }
    // Through a descriptor opened without following a link, checked to be the folder we made: chmod by path would follow one.
    for (const [folder, mode] of folderModes.reverse()) {
      const fd = openFolder(folder);
      try {
        assertOpenedAt(fd, folder);
        fs.fchmodSync(fd, mode);
      } finally {
        fs.closeSync(fd);
      }
    }
    // link() and mkdir() refuse an existing name (rename alone would replace an empty folder or a file there).
    if (entry.kind === 'dir') {
      try {
        fs.mkdirSync(dest, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`${dest} appeared meanwhile; Boxkeep does not overwrite it.`);
        throw err;
      }
      try {
        fs.renameSync(top, dest);
      } catch (err) {
        fs.rmdirSync(dest);
        throw err;
      }
    } else if (fs.lstatSync(top, { throwIfNoEntry: false })) {
      fs.linkSync(top, dest);
    }
    return result;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** Where an open descriptor lies, every link on the way resolved: a folder swapped for a link shows here. */
function assertOpenedAt(fd: number, expected: string): void {
  const actual = fs.readlinkSync(`/proc/self/fd/${fd}`);
  if (actual !== expected) throw moved(expected);
}

/** A folder of the staging tree, opened only when it is no link (ELOOP or ENOTDIR say it was swapped for one). */
function openFolder(folder: string): number {
  try {
    return fs.openSync(folder, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw moved(folder);
    throw err;
  }
}

/** A folder of the staging tree is still the one we made, not a link to elsewhere put in its place. */
function assertFolderIs(folder: string): void {
  if (fs.realpathSync(folder) !== folder) throw moved(folder);
}

const moved = (where: string) => storageError(`${where} was moved or replaced while the copy was being made there; nothing was saved. Try again in a folder only you can write to.`);

/** One entry at a host path inside the staging folder. */
async function place(app: Appliance, mountpoint: string, e: GuestEntry, target: string, result: FileCopyResult, folderModes: [string, number][]): Promise<void> {
  switch (e.kind) {
    case 'dir':
      // Its own mode only once all below it is placed (a read-only folder would refuse them).
      assertFolderIs(path.dirname(target));
      fs.mkdirSync(target, { mode: 0o700 });
      folderModes.push([target, e.mode & 0o777]);
      result.folders++;
      return;
    case 'link':
      assertFolderIs(path.dirname(target));
      fs.symlinkSync(e.target ?? '', target);
      result.links++;
      return;
    case 'file': {
      // Created empty O_EXCL here first, so a name planted meanwhile is refused rather than
      // written through; its folder checked first and the open file checked after, so a staging
      // folder swapped for a link is caught. guestfish then writes through /proc/<pid>/fd/N:
      // that names this very open file, whatever happens to the path meanwhile.
      assertFolderIs(path.dirname(target));
      const fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
      try {
        assertOpenedAt(fd, target);
        await app.must(`download ${quote(join(mountpoint, e.path))} ${quote(`/proc/${process.pid}/fd/${fd}`)}`, { progress: () => fs.fstatSync(fd).size });
        fs.fchmodSync(fd, e.mode & 0o777);
        fs.futimesSync(fd, e.mtimeMs / 1000, e.mtimeMs / 1000);
        result.bytes += fs.fstatSync(fd).size;
      } finally {
        fs.closeSync(fd);
      }
      result.files++;
      return;
    }
    default:
      result.skipped.push(`${e.path}: not a file, folder or link (a device, socket or pipe)`);
  }
}
