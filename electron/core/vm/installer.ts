// Installer media on a running or starting box: which ISO QEMU gets as its CD-ROM, and Eject.
// The ISO is never part of the disk chain, so snapshots neither see nor keep it; Eject is a
// box setting (the next start has no CD-ROM) and, on a running box, a change QEMU makes at once.
import { storageError } from '../../../shared/errors.js';
import type { Box } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { placedFile, type LayerFacts } from '../disk/confine.js';
import { descriptorDigest } from '../images/installer.js';
import { INSTALLER_DEVICE_ID, INSTALLER_NODES } from './qemu.js';
import type { BlockDevice } from './nodes.js';
import type { QmpClient } from './qmp.js';

/** The ISO QEMU is to open, and the inode it must then hold (see layersNotHeld in supervisor.ts). */
export interface CheckedInstaller { path: string; dev: number; ino: number }

/**
 * The ISO to attach at start, checked as a chain layer is: inside the home, no symlink, one
 * link, and still the file imported (its size and volume descriptors as recorded then): a
 * file put in its place, say another box's disk, would otherwise be shown to this guest.
 */
export function installerFor(core: HomeData, box: Box): CheckedInstaller | null {
  if (box.installerImageId === null) return null;
  const image = core.store.getImage(box.installerImageId);
  const file = core.paths.imageInstaller(box.installerImageId);
  const placed = image?.kind !== 'installer' ? 'its record is missing or is not installer media'
    : image.path !== file ? `its record names ${image.path} instead` : placedFile(core.paths.root, file);
  const problem = typeof placed === 'string' ? placed : changedSinceImport(file, placed.size, core.store.imageFacts(image!.id));
  if (problem !== null || typeof placed === 'string') {
    throw storageError(`The installer of the box ${JSON.stringify(box.name)} is not the file Boxkeep imported (${file}): ${problem}. Boxkeep did not start the box. Eject it ("boxkeep box eject ${box.name}") to start from the disk, or import the installer again.`);
  }
  return { path: file, dev: placed.dev, ino: placed.ino };
}

function changedSinceImport(file: string, size: number, recorded: LayerFacts | null): string | null {
  if (!recorded) return 'nothing was recorded of it at import';
  if (size !== recorded.fileSize) return `it is ${size} bytes long but was ${recorded.fileSize} bytes when it was imported`;
  if (descriptorDigest(file) !== recorded.headerDigest) return 'its volume descriptors changed since it was imported (the file was rewritten or replaced)';
  return null;
}

/**
 * Opens the tray regardless of a guest lock, takes the medium out and closes QEMU's file. Safe
 * to repeat (an owner killed after this but before the record is written ejects again).
 */
export async function ejectFromQemu(qmp: QmpClient): Promise<void> {
  const blocks = await qmp.execute<BlockDevice[]>('query-block');
  const cd = blocks.find((b) => b.qdev === INSTALLER_DEVICE_ID || b.qdev?.includes(`/${INSTALLER_DEVICE_ID}/`));
  if (cd?.inserted) {
    await qmp.execute('blockdev-open-tray', { id: INSTALLER_DEVICE_ID, force: true });
    await qmp.execute('blockdev-remove-medium', { id: INSTALLER_DEVICE_ID });
  }
  for (const node of [INSTALLER_NODES.format, INSTALLER_NODES.file]) {
    await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
  }
}
