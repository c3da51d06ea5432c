// The cloud-init seed at start: checked as the installer is (inside the home, no symlink, one
// link) and then required among QEMU's open files, so a file put in its place is never shown
// to the guest. A seed that is gone (deleted by hand) is made again from the box's record,
// which holds everything it was made from, the password's hash included.
import fs from 'node:fs';
import { storageError } from '../../../shared/errors.js';
import type { Box } from '../../../shared/types.js';
import { writeSeed } from '../cloudinit/seed.js';
import type { HomeData } from '../deps.js';
import { placedFile } from '../disk/confine.js';
import type { CheckedInstaller } from './installer.js';

export async function seedFor(core: HomeData, box: Box): Promise<CheckedInstaller | null> {
  const record = box.cloudInit ? core.store.cloudInitRecord(box.id) : null;
  if (!record) return null;
  const file = core.paths.seedIso(box.id);
  if (!fs.existsSync(file) && !isSymlink(file)) await writeSeed(file, box.id, record);
  const placed = placedFile(core.paths.root, file);
  if (typeof placed === 'string') {
    throw storageError(`The cloud-init seed of the box ${JSON.stringify(box.name)} (${file}) is not the file Boxkeep made: ${placed}. Boxkeep did not start the box. Remove that file; the next start makes the seed again.`);
  }
  return { path: file, dev: placed.dev, ino: placed.ino };
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
