// ISO 9660 recognition for installer media. The file is untrusted: one bounded read of the
// volume descriptors (sectors 16..), every field checked against the file size. A file with
// "CD001" at 0x8001 is an ISO; one that says so but is cut short is refused, not taken as a disk.
import fs from 'node:fs';
import { invalidArgument } from '../../../shared/errors.js';

const SECTOR = 2048;
const FIRST_DESCRIPTOR = 16 * SECTOR;
/** Descriptors before the terminator: real images carry 2 to 4 (primary, boot record, Joliet). */
const MAX_DESCRIPTORS = 32;
const TYPE_PRIMARY = 1;
const TYPE_TERMINATOR = 255;

export interface IsoFacts {
  /** Bytes the volume says it spans (volume space size × logical block size). */
  volumeBytes: number;
  volumeId: string;
}

/** Only the magic: "CD001" at 0x8001, the identifier of the first volume descriptor. */
export function looksLikeIso(file: string): boolean {
  const buf = readAt(file, FIRST_DESCRIPTOR + 1, 5);
  return buf.length === 5 && buf.toString('latin1') === 'CD001';
}

/** The primary volume descriptor's facts; an InvalidArgument saying what is wrong otherwise. */
export function readIsoFacts(file: string): IsoFacts {
  const size = fs.statSync(file).size;
  const region = readAt(file, FIRST_DESCRIPTOR, MAX_DESCRIPTORS * SECTOR);
  const bad = (why: string) => invalidArgument(`The file ${file} starts like an ISO 9660 image but ${why}; it was not imported. Download it again.`);
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    const at = i * SECTOR;
    if (at + SECTOR > region.length) throw bad(`ends inside its volume descriptors (at byte ${FIRST_DESCRIPTOR + region.length} of ${FIRST_DESCRIPTOR + at + SECTOR} needed): it is truncated`);
    if (region.toString('latin1', at + 1, at + 6) !== 'CD001') throw bad(`volume descriptor ${i + 1} has no CD001 identifier`);
    const type = region[at]!;
    if (type === TYPE_TERMINATOR) throw bad('has no primary volume descriptor');
    if (type !== TYPE_PRIMARY) continue;
    // Both-endian fields (ECMA-119 8.4): the little- and big-endian halves must agree.
    const blocks = region.readUInt32LE(at + 80);
    const blockSize = region.readUInt16LE(at + 128);
    if (blocks !== region.readUInt32BE(at + 84) || blockSize !== region.readUInt16BE(at + 130)) throw bad('its primary volume descriptor disagrees with itself');
    if (![512, 1024, 2048].includes(blockSize)) throw bad(`its logical block size is ${blockSize} bytes`);
    const volumeBytes = blocks * blockSize;
    if (volumeBytes > size) throw bad(`says it is ${volumeBytes} bytes long while the file has ${size}: it is truncated`);
    return { volumeBytes, volumeId: region.toString('latin1', at + 40, at + 72).trim() };
  }
  throw bad(`has more than ${MAX_DESCRIPTORS} volume descriptors`);
}

function readAt(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(length);
    const got = fs.readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}
