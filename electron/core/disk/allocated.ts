// Does a qcow2 overlay hold any data of its own? A live disk is a fresh, empty overlay right
// after a snapshot or a restore, so "holds data" is exactly "Now has changes since its
// snapshot". Read natively from the L1/L2 tables (a few KiB for a small disk, stopping at the
// first mapped cluster) rather than `qemu-img map`, which costs a process per question.
// The file is untrusted like every image: every offset is checked against the file size.
import fs from 'node:fs';
import { readQcow2HeaderSync } from './qcow2.js';

/** Bits 9..55 of an L1 or L2 entry: the host offset. */
const OFFSET_MASK = 0x00ff_ffff_ffff_fe00n;

/**
 * True when any guest cluster is mapped in this file (data, or a "reads as zeros" entry, which
 * also hides what the backing file holds). QEMU may still hold unwritten metadata for a running
 * box, so callers treat a running box as changed.
 */
export function holdsData(file: string): boolean {
  const { header, stat } = readQcow2HeaderSync(file);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const fixed = Buffer.alloc(48);
    fs.readSync(fd, fixed, 0, 48, 0);
    const l1Size = fixed.readUInt32BE(36);
    const l1Offset = Number(fixed.readBigUInt64BE(40));
    const clusterSize = 2 ** header.clusterBits;
    if (l1Size === 0 || l1Offset + l1Size * 8 > stat.size) return false;
    const l1 = Buffer.alloc(l1Size * 8);
    fs.readSync(fd, l1, 0, l1.length, l1Offset);
    const l2 = Buffer.alloc(clusterSize);
    for (let i = 0; i < l1Size; i++) {
      const l2Offset = Number(l1.readBigUInt64BE(i * 8) & OFFSET_MASK);
      if (l2Offset === 0) continue;
      // An L2 table past the end of the file is a damaged image: something is there, say so.
      if (l2Offset + clusterSize > stat.size) return true;
      fs.readSync(fd, l2, 0, clusterSize, l2Offset);
      for (let j = 0; j < clusterSize; j += 8) if (l2.readBigUInt64BE(j) !== 0n) return true;
    }
    return false;
  } finally {
    fs.closeSync(fd);
  }
}
