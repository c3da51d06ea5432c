// UEFI firmware: Debian's OVMF. The code is the system's file, opened read-only; the variables
// (boot entries, settings the guest writes) are the box's own copy, disks/efivars.fd, made
// from OVMF's template at create. They are part of the box's state like its disk: each
// snapshot keeps a copy (snapshots/<id>/efivars.fd) and a restore puts it back (snapshots/efivars.ts).
import fs from 'node:fs';
import path from 'node:path';
import { storageError, vmError } from '../../../shared/errors.js';
import type { Box } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { placedFile } from '../disk/confine.js';
import { openRegularFile, writeFileDurable } from '../fsutil.js';

/** Where Debian's `ovmf` package puts it; BOXKEEP_OVMF_DIR for a host that keeps it elsewhere. */
export const OVMF_DIR = '/usr/share/OVMF';
/** The 4 MiB build (Debian's default since bookworm), no Secure Boot: its code and its variables template. */
export const OVMF_CODE = 'OVMF_CODE_4M.fd';
export const OVMF_VARS = 'OVMF_VARS_4M.fd';

export interface Ovmf { code: string; varsTemplate: string; varsSize: number }

/** The firmware files, or the error that says which package brings them. */
export function findOvmf(dir: string = process.env.BOXKEEP_OVMF_DIR || OVMF_DIR): Ovmf {
  const code = path.join(dir, OVMF_CODE);
  const varsTemplate = path.join(dir, OVMF_VARS);
  for (const file of [code, varsTemplate]) {
    if (!fs.existsSync(file)) throw vmError(`UEFI needs the OVMF firmware, and ${file} is missing; install it with: sudo apt-get install ovmf`);
  }
  return { code, varsTemplate, varsSize: fs.statSync(varsTemplate).size };
}

/**
 * The bytes of a variables file, read through a descriptor that followed no link and that is
 * the file checked: a regular file of `size` bytes, with one link when it is the home's, and
 * the inode `checked` found (a file swapped in after the check is not read).
 */
export function readVars(file: string, size: number, checked?: { dev: number; ino: number }): Buffer {
  const refuse = (wrong: string) => storageError(`The UEFI variables ${file} cannot be copied: ${wrong}. Nothing was changed. Run "boxkeep check".`);
  // openRegularFile: no link followed, and a FIFO swapped in opens at once instead of hanging.
  // No size cap there: a wrong size gets its own message below.
  const opened = openRegularFile(file, Number.MAX_SAFE_INTEGER);
  if ('what' in opened) throw refuse('it is not a regular file');
  const { fd } = opened;
  try {
    if (opened.size !== size) throw refuse(`it is ${opened.size} bytes long, but OVMF's variables are ${size} bytes`);
    const st = fs.fstatSync(fd);
    if (checked && (st.dev !== checked.dev || st.ino !== checked.ino || st.nlink !== 1)) throw refuse('it was replaced after it was checked');
    const data = Buffer.alloc(size);
    for (let at = 0; at < size;) {
      const n = fs.readSync(fd, data, at, size - at, at);
      if (n === 0) throw storageError(`The UEFI variables ${file} ended early (${at} of ${size} bytes). Nothing was changed.`);
      at += n;
    }
    return data;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A copy of a variables file, on disk (data and folder) before this returns: written beside
 * `to` and renamed over it, so `to` is never half-written, and a link planted at `to` (or at
 * the temporary name) is replaced, never written through.
 */
export function copyVars(from: string, to: string, size: number, checked?: { dev: number; ino: number }): Buffer {
  const data = readVars(from, size, checked);
  writeFileDurable(to, data);
  return data;
}

/** The files QEMU is to open for a UEFI box, and the inode of the variables it must then hold. */
export interface CheckedFirmware { code: string; /** The box's variables. */ path: string; dev: number; ino: number }

/**
 * Checked as a chain layer is, right before QEMU opens it: inside the home, no symlink, one
 * link, and the size of OVMF's template (QEMU maps it as flash; another size is another file).
 * A variables file swapped for a link to a host file would otherwise be written by the guest.
 */
export function firmwareFor(core: HomeData, box: Box): CheckedFirmware | null {
  if (box.firmware !== 'uefi') return null;
  const ovmf = findOvmf();
  const vars = core.paths.efiVars(box.id);
  const placed = checkVars(core.paths.root, vars, ovmf.varsSize);
  if (typeof placed === 'string') {
    throw storageError(`The UEFI variables of the box ${JSON.stringify(box.name)} (${vars}) are not the file Boxkeep made: ${placed}. Boxkeep did not start the box. Restore a snapshot to put its copy back, or run "boxkeep check ${box.name}".`);
  }
  return { code: ovmf.code, path: vars, dev: placed.dev, ino: placed.ino };
}

/** Confinement of a variables file (the box's or a snapshot's copy): its inode, or what is wrong. */
export function checkVars(root: string, file: string, size: number): { dev: number; ino: number } | string {
  const placed = placedFile(root, file);
  if (typeof placed === 'string') return placed;
  if (placed.size !== size) return `it is ${placed.size} bytes long, but OVMF's variables are ${size} bytes`;
  return placed;
}
