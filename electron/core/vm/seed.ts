// The cloud-init seed at start: made again from the box's record every time (it holds
// everything the seed is made from, the password's hash included; one genisoimage run, tens of
// milliseconds), so whatever lies at its path, gone, a symlink, a larger file or another
// ISO, the guest is shown only what the record says. Then it is checked as the installer is
// (inside the home, no symlink, one link) and required among QEMU's open files, so a file put
// in its place after the write is never shown to the guest either.
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
  // A rename over the path: a symlink there is replaced, never followed.
  await writeSeed(file, box.id, record);
  const placed = placedFile(core.paths.root, file);
  if (typeof placed === 'string') {
    throw storageError(`The cloud-init seed of the box ${JSON.stringify(box.name)} (${file}) was replaced as Boxkeep made it: ${placed}. Boxkeep did not start the box; start it again.`);
  }
  return { path: file, dev: placed.dev, ino: placed.ino };
}
