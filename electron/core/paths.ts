import path from 'node:path';

/** Every path of the home layout in one place (docs/ARCHITECTURE.md, "The home"). */
export class HomePaths {
  readonly root: string;

  constructor(home: string) {
    this.root = path.resolve(home);
  }

  get db() { return path.join(this.root, 'boxkeep.db'); }
  get lock() { return path.join(this.root, 'home.lock'); }
  get imagesDir() { return path.join(this.root, 'images'); }
  get boxesDir() { return path.join(this.root, 'boxes'); }
  /** Intent records of operations that are not tied to one existing box (imports, box create/remove). */
  get homeJournal() { return path.join(this.root, 'journal'); }
  /** Files recovery could not place: moved here, never deleted. */
  get orphansDir() { return path.join(this.root, 'orphans'); }
  /** What finished operations no longer need, freed in the background (trash.ts). */
  get trashDir() { return path.join(this.root, 'trash'); }
  /** The app's local socket, for the CLI talking to a running app. */
  get controlSocket() { return path.join(this.root, 'control.sock'); }

  imageDir(imageId: string) { return path.join(this.imagesDir, imageId); }
  imageDisk(imageId: string) { return path.join(this.imageDir(imageId), 'disk.qcow2'); }
  /** Installer media: the ISO 9660 image, attached read-only as a CD-ROM. */
  imageInstaller(imageId: string) { return path.join(this.imageDir(imageId), 'installer.iso'); }
  imageKernel(imageId: string) { return path.join(this.imageDir(imageId), 'kernel'); }
  imageInitrd(imageId: string) { return path.join(this.imageDir(imageId), 'initrd'); }

  boxDir(boxId: string) { return path.join(this.boxesDir, boxId); }
  disksDir(boxId: string) { return path.join(this.boxDir(boxId), 'disks'); }
  liveDisk(boxId: string) { return path.join(this.disksDir(boxId), 'container.qcow2'); }
  /** The overlay being prepared; becomes the live disk by an atomic rename. */
  nextDisk(boxId: string) { return path.join(this.disksDir(boxId), '.next.qcow2'); }
  snapshotsDir(boxId: string) { return path.join(this.boxDir(boxId), 'snapshots'); }
  snapshotDir(boxId: string, snapshotId: string) { return path.join(this.snapshotsDir(boxId), snapshotId); }
  snapshotDisk(boxId: string, snapshotId: string) { return path.join(this.snapshotDir(boxId, snapshotId), 'container.qcow2'); }
  /** A UEFI box's firmware variables (OVMF's flash), part of its state like the live disk. */
  efiVars(boxId: string) { return path.join(this.disksDir(boxId), 'efivars.fd'); }
  /** The copy a restore prepares; becomes efiVars by an atomic rename. */
  nextEfiVars(boxId: string) { return path.join(this.disksDir(boxId), '.next-efivars.fd'); }
  /** The variables as they were when the snapshot was taken. */
  /** A snapshot with memory: the machine's RAM and device state, as QEMU's migration stream. */
  snapshotMemory(boxId: string, snapshotId: string) { return path.join(this.snapshotDir(boxId, snapshotId), MEMORY_FILE); }
  snapshotEfiVars(boxId: string, snapshotId: string) { return path.join(this.snapshotDir(boxId, snapshotId), 'efivars.fd'); }
  boxJournal(boxId: string) { return path.join(this.boxDir(boxId), 'journal'); }
  runDir(boxId: string) { return path.join(this.boxDir(boxId), 'run'); }
  logsDir(boxId: string) { return path.join(this.boxDir(boxId), 'logs'); }
  /** The cloud-init NoCloud seed (an ISO 9660 volume labelled cidata), attached read-only. */
  seedIso(boxId: string) { return path.join(this.boxDir(boxId), 'seed.iso'); }
}

/** A snapshot's picture of the screen (snapshots/picture.ts), beside its disk in its folder. */
export const PICTURE_FILE = 'screen.png';
export const MEMORY_FILE = 'memory.state';
/** Where the stream is written until it is complete and fsynced: never loaded by a restore. */
export const MEMORY_PARTIAL_FILE = 'memory.state.partial';

/** The memory state beside a snapshot's disk (the folder holds both). */
export function memoryPath(snapshotDiskPath: string): string {
  return path.join(path.dirname(snapshotDiskPath), MEMORY_FILE);
}

export function picturePath(snapshotDiskPath: string): string {
  return path.join(path.dirname(snapshotDiskPath), PICTURE_FILE);
}
