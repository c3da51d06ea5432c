// Which guest clusters does one qcow2 layer map itself? A live disk is a fresh, empty overlay
// right after a snapshot or a restore, so "holds data" is exactly "Now has changes since its
// snapshot"; and a snapshot's layer is exactly what was written between its parent and it, so
// the ranges of the layers between two snapshots are what differs between them. Read natively
// from the L1/L2 tables (a few KiB for a small disk, ~20 L2 tables for 10 GiB) rather than
// `qemu-img map`, which costs a process per layer. The file is untrusted like every image: every
// offset is checked against the file size.
import fs from 'node:fs';
import { BoxkeepError } from '../../../shared/errors.js';
import { readQcow2HeaderSync } from './qcow2.js';

// A removal's planning reads a whole layer's tables, a few calls a removal, so this code is
// rarely warm: looking at each of an L2 table's 8192 entries, in BigInt, cost it 5-10 ms on
// this machine, more than the 1 MiB commit it was choosing. Entries are read as two 32-bit
// halves, and runs of unmapped ones skipped by a native compare.
/** Entries compared at once with ZEROS (64: 512 bytes, the smallest cluster an L2 table fills). */
const ZERO_RUN = 64;
const ZEROS = Buffer.alloc(ZERO_RUN * 8);
/** Bits 9..55 of an L1 or L2 entry (the host offset): bits 32..55 in the high half, 9..31 in the low. */
const OFFSET_HIGH = 0x00ff_ffff;
const OFFSET_LOW = 0xffff_fe00;
/** Incompatible feature bit 4: extended L2 entries (subclusters), which Boxkeep never writes. */
const INCOMPAT_EXTENDED_L2 = 1n << 4n;
/** Bit 0 of a standard L2 entry: the cluster reads as zeros (no data to copy). Bit 62 (bit 30 of the high half): compressed, where bit 0 is part of the offset. */
const ZERO_FLAG = 1;
const COMPRESSED_HIGH = 1 << 30;

/** The host offset an L1 entry at `at` points to (0: no L2 table). */
function offsetAt(table: Buffer, at: number): number {
  return (table.readUInt32BE(at) & OFFSET_HIGH) * 2 ** 32 + ((table.readUInt32BE(at + 4) & OFFSET_LOW) >>> 0);
}

/** A guest byte range [start, end). */
export type Range = [number, number];

/**
 * Visits every guest cluster mapped in this file (data, or a "reads as zeros" entry, which also
 * hides what the backing file holds) in guest order; the visitor returns true to stop early.
 * An L2 table past the end of the file is a damaged image: reported as all its clusters mapped
 * (something is there), never read.
 */
function forEachMapped(file: string, visit: (guestOffset: number, clusterSize: number, virtualSize: number, holdsData: boolean) => boolean | void): void {
  const { header, stat } = readQcow2HeaderSync(file);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const fixed = Buffer.alloc(48);
    fs.readSync(fd, fixed, 0, fixed.length, 0);
    if ((BigInt(header.incompatibleFeatures) & INCOMPAT_EXTENDED_L2) !== 0n) {
      throw new BoxkeepError('Storage', `${file} uses extended L2 entries (subclusters), which Boxkeep does not read; it is not a disk Boxkeep made.`);
    }
    const l1Size = fixed.readUInt32BE(36);
    const l1Offset = Number(fixed.readBigUInt64BE(40));
    const clusterSize = 2 ** header.clusterBits;
    const perL2 = clusterSize / 8;
    if (l1Size === 0 || l1Offset + l1Size * 8 > stat.size) return;
    const l1 = Buffer.alloc(l1Size * 8);
    fs.readSync(fd, l1, 0, l1.length, l1Offset);
    const l2 = Buffer.alloc(clusterSize);
    for (let i = 0; i < l1Size; i++) {
      const l2Offset = offsetAt(l1, i * 8);
      if (l2Offset === 0) continue;
      const base = i * perL2 * clusterSize;
      if (base >= header.virtualSize) break;
      if (l2Offset + clusterSize > stat.size) {
        for (let j = 0; j < perL2 && base + j * clusterSize < header.virtualSize; j++) if (visit(base + j * clusterSize, clusterSize, header.virtualSize, true)) return;
        continue;
      }
      fs.readSync(fd, l2, 0, clusterSize, l2Offset);
      const entries = Math.min(perL2, Math.ceil((header.virtualSize - base) / clusterSize));
      for (let j = 0; j < entries; j++) {
        // Unmapped runs are skipped a block at a time by a native compare.
        if (j % ZERO_RUN === 0 && j + ZERO_RUN <= entries && l2.compare(ZEROS, 0, ZERO_RUN * 8, j * 8, (j + ZERO_RUN) * 8) === 0) {
          j += ZERO_RUN - 1;
          continue;
        }
        const high = l2.readUInt32BE(j * 8);
        const low = l2.readUInt32BE(j * 8 + 4);
        if (high === 0 && low === 0) continue;
        const guest = base + j * clusterSize;
        // A compressed cluster holds data whatever its bit 0; a standard one unless it reads as zeros.
        if (visit(guest, clusterSize, header.virtualSize, (high & COMPRESSED_HIGH) !== 0 || (low & ZERO_FLAG) === 0)) return;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * True when any guest cluster is mapped in this file. QEMU may still hold unwritten metadata
 * for a running box, so callers treat a running box as changed.
 */
export function holdsData(file: string): boolean {
  let found = false;
  forEachMapped(file, () => (found = true));
  return found;
}

/** The guest ranges this layer maps, in order, adjacent clusters joined; the last one ends at the virtual size at most. */
export function mappedRanges(file: string): Range[] {
  const out: Range[] = [];
  forEachMapped(file, (start, size, virtualSize) => {
    const end = Math.min(start + size, virtualSize);
    const last = out[out.length - 1];
    if (last && last[1] === start) last[1] = end;
    else out.push([start, end]);
  });
  return out;
}

/**
 * The bytes of data this layer holds itself (what `qemu-img map` reports as depth 0, data
 * true): what a merge copies out of it, so what a removal's space guard counts. Zero clusters
 * copy nothing; a damaged L2 table counts whole. In process: a qemu-img spawn cost a live
 * removal 30-200 ms on a loaded machine, more than the block job itself.
 */
export function dataBytes(file: string): number {
  let bytes = 0;
  forEachMapped(file, (start, size, virtualSize, data) => {
    if (data) bytes += Math.min(start + size, virtualSize) - start;
  });
  return bytes;
}

/** Bytes covered by the union of several layers' ranges. */
export function unionBytes(layers: Range[][]): number {
  const all = layers.flat().sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -1;
  for (const [s, e] of all) {
    if (s >= end) {
      total += e - s;
      end = e;
    } else if (e > end) {
      total += e - end;
      end = e;
    }
  }
  return total;
}
