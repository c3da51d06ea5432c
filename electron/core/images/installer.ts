// Installer media (an ISO 9660 image) on import: copied into the home as it is, checked again
// once the copy is ours, read-only. It is never part of a disk chain: a box boots from it as a
// read-only CD-ROM, always opened as raw (never probed). And the check that refuses a file
// that is plainly neither a disk nor an ISO, instead of taking it as a raw disk.
import { crypto } from '../builtins.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Image } from '../../../shared/types.js';
import type { LayerFacts } from '../disk/confine.js';
import { readIsoFacts } from '../disk/iso.js';
import { fsyncPath, renameDurable } from '../fsutil.js';
import type { HomePaths } from '../paths.js';

/** What an install step leaves for the row: the file's own fields and its facts. */
export interface Installed {
  image: Pick<Image, 'kind' | 'format' | 'path' | 'virtualSize'>;
  facts: LayerFacts;
}

/** `source` was already recognised as an ISO (images/service.ts, untrustedFormat). */
export async function installInstaller(paths: HomePaths, imageId: string, source: string): Promise<Installed> {
  const staging = path.join(paths.imageDir(imageId), '.importing.iso');
  // Asynchronous: an installer is gigabytes, and a synchronous copy would stall the app.
  await fs.promises.copyFile(source, staging, fs.constants.COPYFILE_FICLONE);
  // The user's file may have changed since it was looked at; what counts is our copy.
  const iso = readIsoFacts(staging);
  fsyncPath(staging);
  const target = paths.imageInstaller(imageId);
  renameDurable(staging, target);
  fs.chmodSync(target, 0o444);
  const size = fs.statSync(target).size;
  return {
    image: { kind: 'installer', format: 'iso', path: target, virtualSize: size },
    facts: { fileSize: size, virtualSize: iso.volumeBytes, headerDigest: descriptorDigest(target) },
  };
}

/** The volume descriptors say what the ISO is (boot catalogue, size, volume id): recorded at import, compared at each start. */
export function descriptorDigest(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4 * 2048);
    const got = fs.readSync(fd, buf, 0, buf.length, 16 * 2048);
    return crypto().createHash('sha256').update(buf.subarray(0, got)).digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** Magic numbers of files people pick by mistake: archives and other VM disk formats. */
const FOREIGN: { at: number; magic: Buffer; what: string }[] = [
  { at: 0, magic: Buffer.from([0x1f, 0x8b]), what: 'a gzip archive; unpack it first' },
  { at: 0, magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), what: 'an xz archive; unpack it first' },
  { at: 0, magic: Buffer.from('BZh'), what: 'a bzip2 archive; unpack it first' },
  { at: 0, magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), what: 'a zstd archive; unpack it first' },
  { at: 0, magic: Buffer.from([0x50, 0x4b, 0x03, 0x04]), what: 'a zip archive; unpack it first' },
  { at: 257, magic: Buffer.from('ustar'), what: 'a tar archive; unpack it first' },
  { at: 0, magic: Buffer.from('KDMV'), what: 'a VMDK disk; convert it first: qemu-img convert -f vmdk -O qcow2 <in> <out>' },
  { at: 0x40, magic: Buffer.from([0x7f, 0x10, 0xda, 0xbe]), what: 'a VirtualBox VDI disk; convert it first: qemu-img convert -f vdi -O qcow2 <in> <out>' },
  { at: 0, magic: Buffer.from('vhdxfile'), what: 'a VHDX disk; convert it first: qemu-img convert -f vhdx -O qcow2 <in> <out>' },
  { at: 0, magic: Buffer.from('conectix'), what: 'a VHD disk; convert it first: qemu-img convert -f vpc -O qcow2 <in> <out>' },
];

/** Why the file cannot be a raw disk, or null. A disk is whole 512-byte sectors. */
export function notADisk(file: string): string | null {
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const head = Buffer.alloc(512);
  let got: number;
  try {
    got = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  for (const f of FOREIGN) {
    if (got >= f.at + f.magic.length && head.subarray(f.at, f.at + f.magic.length).equals(f.magic)) return `it is ${f.what}`;
  }
  if (size % 512 !== 0) return `it is ${size} bytes long, not a whole number of 512-byte sectors as every disk is`;
  return null;
}
