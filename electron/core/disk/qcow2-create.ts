// A new empty qcow2 written in-process instead of by spawning `qemu-img create`: the spawn was
// the largest cost left in a forwarded snapshot create (issue 9). The bytes are exactly what
// `qemu-img create -q -f qcow2 [-u] [-b B -F F] FILE SIZE` of QEMU 7.2 writes with its defaults
// (test/integration/qcow2-create.test.ts compares them), so nothing downstream can tell which
// wrote a file. Layout, from the spec (docs/interop/qcow2.txt) and 7.2's choices:
//   cluster 0  the v3 header, its extensions (backing format, feature names), the backing name
//   cluster 1  the refcount table, one entry: cluster 2
//   cluster 2  the refcount block: refcount 1 for every cluster the file uses
//   cluster 3… the L1 table, all zero (nothing allocated); the file ends right after it.
// Whatever this cannot reproduce exactly returns null and the caller runs qemu-img instead.
import fs from 'node:fs';
import { alreadyExists, storageError } from '../../../shared/errors.js';

const MAGIC = 0x514649fb;
const CLUSTER_BITS = 16;
const CLUSTER = 1 << CLUSTER_BITS;
/** One L2 table of 8-byte entries maps this much guest data, one L1 entry per L2 table. */
const L1_ENTRY_COVERS = CLUSTER * (CLUSTER / 8);
const REFCOUNT_ORDER = 4; // 16-bit refcounts
/** The v3 fields (104 bytes) plus the compression type byte, padded to 8: what 7.2 writes. */
const HEADER_LENGTH = 112;
const REFCOUNT_TABLE_AT = 1 * CLUSTER;
const REFCOUNT_BLOCK_AT = 2 * CLUSTER;
const L1_AT = 3 * CLUSTER;
/** QEMU refuses longer names (its buffer is 1024 bytes with the NUL); qemu-img says so. */
const MAX_BACKING_NAME = 1023;
/** A larger L1 (a virtual disk over 64 TiB) would mean buffering megabytes of zeros; qemu-img
 *  does those (or refuses them, past 2 PiB) in its own words. */
const MAX_L1_BYTES = 1024 * 1024;

const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_NAMES = 0x6803f857;
/** 7.2's feature name table, in its order: [type (0 incompatible, 1 compatible, 2 autoclear), bit, name]. */
const FEATURE_NAMES: [number, number, string][] = [
  [0, 0, 'dirty bit'],
  [0, 1, 'corrupt bit'],
  [0, 2, 'external data file'],
  [0, 3, 'compression type'],
  [0, 4, 'extended L2 entries'],
  [1, 0, 'lazy refcounts'],
  [2, 0, 'bitmaps'],
  [2, 1, 'raw external data'],
];
const FEATURE_ENTRY = 48;

export interface Backing {
  path: string;
  format: 'qcow2' | 'raw';
}

/** The whole file, or null when only qemu-img can write it. `virtualSize` is a positive
 *  multiple of 512 (qemu-img.ts checks). */
export function emptyQcow2(virtualSize: number, backing: Backing | null): Buffer | null {
  const l1Entries = Math.ceil(virtualSize / L1_ENTRY_COVERS);
  const l1Bytes = l1Entries * 8;
  if (l1Bytes > MAX_L1_BYTES) return null;
  const name = backing ? Buffer.from(backing.path, 'utf8') : null;
  if (name && (name.length === 0 || name.length > MAX_BACKING_NAME)) return null;

  const file = Buffer.alloc(L1_AT + l1Bytes); // zero-filled: flags, crypt, snapshots, padding
  file.writeUInt32BE(MAGIC, 0);
  file.writeUInt32BE(3, 4); // version
  file.writeUInt32BE(CLUSTER_BITS, 20);
  file.writeBigUInt64BE(BigInt(virtualSize), 24);
  file.writeUInt32BE(l1Entries, 36);
  file.writeBigUInt64BE(BigInt(L1_AT), 40);
  file.writeBigUInt64BE(BigInt(REFCOUNT_TABLE_AT), 48);
  file.writeUInt32BE(1, 56); // refcount table clusters
  // 72..95: incompatible, compatible and autoclear features all 0 (no lazy refcounts, zlib).
  file.writeUInt32BE(REFCOUNT_ORDER, 96);
  file.writeUInt32BE(HEADER_LENGTH, 100);
  // 104: compression type 0 (zlib), then padding to HEADER_LENGTH.

  let at = HEADER_LENGTH;
  if (backing) at = extension(file, at, EXT_BACKING_FORMAT, Buffer.from(backing.format, 'ascii'));
  const names = Buffer.alloc(FEATURE_NAMES.length * FEATURE_ENTRY);
  FEATURE_NAMES.forEach(([type, bit, text], i) => {
    names[i * FEATURE_ENTRY] = type;
    names[i * FEATURE_ENTRY + 1] = bit;
    names.write(text, i * FEATURE_ENTRY + 2, 'ascii');
  });
  at = extension(file, at, EXT_FEATURE_NAMES, names);
  at += 8; // the end-of-extensions marker: type 0, length 0
  if (name) {
    file.writeBigUInt64BE(BigInt(at), 8);
    file.writeUInt32BE(name.length, 16);
    name.copy(file, at);
  }

  file.writeBigUInt64BE(BigInt(REFCOUNT_BLOCK_AT), REFCOUNT_TABLE_AT);
  const clusters = 3 + Math.ceil(l1Bytes / CLUSTER);
  for (let c = 0; c < clusters; c++) file.writeUInt16BE(1, REFCOUNT_BLOCK_AT + 2 * c);
  return file;
}

/** Type, length, data padded to a multiple of 8; returns where the next one starts. */
function extension(file: Buffer, at: number, type: number, data: Buffer): number {
  file.writeUInt32BE(type, at);
  file.writeUInt32BE(data.length, at + 4);
  data.copy(file, at + 8);
  return at + 8 + Math.ceil(data.length / 8) * 8;
}

/**
 * Creates `target` with O_EXCL (an existing file, or one that appears meanwhile, is never
 * touched) and makes its data durable before returning, as qemu-img's fdatasync on close did;
 * the directory entry's durability stays the callers' business, as it was. Written in full, not
 * sparse, so its allocation (sizeOnDisk, `actual-size`) is qemu-img's too. A failed write
 * removes the file it created: a half-written header must never be taken for a disk.
 */
export function writeNewFile(target: string, bytes: Buffer, what: string): void {
  let fd: number;
  try {
    fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`${target} already exists; remove it first.`);
    throw storageError(`${what} failed: ${(err as Error).message}`, err);
  }
  try {
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done, done);
    fs.fdatasyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(target, { force: true });
    throw storageError(`${what} failed: ${(err as Error).message}`, err);
  }
  fs.closeSync(fd);
}
