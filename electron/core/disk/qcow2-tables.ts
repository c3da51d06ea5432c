// Bounds of the two tables every qcow2 image has, the refcount table and the active L1 table,
// checked from the header alone. QEMU refuses an image whose tables break its own rules
// (block/qcow2.c, qcow2_do_open) with words of its own and we would report that as a Storage
// failure; worse, a table that runs past the end of the file is read by QEMU as zeros. So the
// header is held to QEMU's rules plus one of ours, that a table lies inside the file. Every
// image qemu-img writes keeps to these: it writes both tables in full when it allocates them.
import type { BoxkeepError } from '../../../shared/errors.js';

/** QEMU's caps (block/qcow2.h): 8 MiB of refcount table, 32 MiB of L1 table. */
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
const MAX_L1_BYTES = 32 * 1024 * 1024;
const L1_ENTRY_BYTES = 8;
/** Incompatible feature bit 4: extended L2 entries, 16 bytes each instead of 8. */
const INCOMPAT_EXTENDED_L2 = 1n << 4n;

export interface TableFacts {
  clusterBits: number;
  virtualSize: number;
  incompatible: bigint;
  fileSize: number;
}

/**
 * Refuses a refcount table or L1 table that QEMU would refuse or read past the end of the file.
 * The L1 table may be larger than the virtual size needs (an image shrunk with qemu-img resize
 * keeps its table; internal snapshots' VM state lives past the end of the disk), so its upper
 * bound is QEMU's cap and the file, never a multiple of what the size needs.
 */
export function checkTableBounds(buf: Buffer, facts: TableFacts, bad: (problem: string) => BoxkeepError): void {
  const { clusterBits, fileSize } = facts;
  const clusterSize = 2 ** clusterBits;

  const refcountOffset = buf.readBigUInt64BE(48);
  const refcountClusters = buf.readUInt32BE(56);
  const maxRefcountClusters = MAX_REFTABLE_BYTES / clusterSize;
  if (refcountClusters === 0) throw bad('the refcount table size (refcount_table_clusters) is 0: the image has no refcount table');
  if (refcountClusters > maxRefcountClusters) {
    throw bad(`the refcount table size (refcount_table_clusters) is ${refcountClusters} clusters; QEMU allows at most ${maxRefcountClusters} (8 MiB) with ${clusterSize}-byte clusters`);
  }
  checkPlacement('refcount table', 'refcount_table_offset', refcountOffset, BigInt(refcountClusters) * BigInt(clusterSize), clusterSize, fileSize, bad);

  const l1Size = buf.readUInt32BE(36);
  const l1Offset = buf.readBigUInt64BE(40);
  // One L1 entry points to one L2 table, a cluster of 8-byte entries (16 with extended L2),
  // each mapping one cluster of the disk.
  const l2Bits = clusterBits - 3 - ((facts.incompatible & INCOMPAT_EXTENDED_L2) !== 0n ? 1 : 0);
  const bytesPerEntry = 1n << BigInt(clusterBits + l2Bits);
  const needed = (BigInt(facts.virtualSize) + bytesPerEntry - 1n) / bytesPerEntry;
  if (BigInt(l1Size) < needed) {
    throw bad(`the L1 table size (l1_size) is ${l1Size} entries, too few for the virtual size of ${facts.virtualSize} bytes, which needs ${needed}`);
  }
  if (l1Size > MAX_L1_BYTES / L1_ENTRY_BYTES) {
    throw bad(`the L1 table size (l1_size) is ${l1Size} entries; QEMU allows at most ${MAX_L1_BYTES / L1_ENTRY_BYTES} (32 MiB), and ${needed} cover the virtual size`);
  }
  checkPlacement('L1 table', 'l1_table_offset', l1Offset, BigInt(l1Size) * BigInt(L1_ENTRY_BYTES), clusterSize, fileSize, bad);
}

/** A table starts on a cluster boundary after the header cluster and ends inside the file. */
function checkPlacement(table: string, field: string, offset: bigint, bytes: bigint, clusterSize: number, fileSize: number, bad: (p: string) => BoxkeepError): void {
  if (offset % BigInt(clusterSize) !== 0n) throw bad(`the ${table} offset (${field}) ${offset} is not a multiple of the cluster size ${clusterSize}`);
  if (bytes === 0n) return;
  if (offset < BigInt(clusterSize)) throw bad(`the ${table} offset (${field}) ${offset} lies in the header cluster`);
  if (offset + bytes > BigInt(fileSize)) {
    throw bad(`the ${table} (${field} ${offset}, ${bytes} bytes) runs past the end of the file (${fileSize} bytes)`);
  }
}
