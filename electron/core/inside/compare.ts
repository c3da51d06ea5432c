// Two listings of one filesystem, compared path by path. Files whose size and mtime match are
// compared by content hash, but only where the inode says it was written: a changed inode
// number or ctime. ctime cannot be set from user space (touch, tar and rsync restore mtime,
// never ctime), so equal inode, size, mtime and ctime means the file was not written through
// the filesystem between the two states, and hashing every unchanged file of a disk twice
// would cost minutes for nothing.
import type { FileChange, GuestEntry } from '../../../shared/types.js';
import { quote, type Appliance } from './appliance.js';
import { join } from './tree.js';

const CHUNK = 200;

export function compareListings(before: GuestEntry[], after: GuestEntry[]): { changes: FileChange[]; toHash: string[] } {
  const old = new Map(before.map((e) => [e.path, e]));
  const changes: FileChange[] = [];
  const toHash: string[] = [];
  for (const b of after) {
    const a = old.get(b.path);
    old.delete(b.path);
    if (!a) {
      changes.push({ path: b.path, change: 'added', what: [], before: null, after: b });
      continue;
    }
    const what: string[] = [];
    if (a.kind !== b.kind) what.push('type');
    if (a.mode !== b.mode) what.push('mode');
    if (a.uid !== b.uid || a.gid !== b.gid) what.push('owner');
    if (a.kind === 'link' && a.target !== b.target) what.push('target');
    if (a.kind === b.kind && a.kind === 'file') {
      if (a.size !== b.size) what.push('size');
      if (a.mtimeNs !== b.mtimeNs) what.push('mtime');
      else if (a.size === b.size && (a.ino !== b.ino || a.ctimeNs !== b.ctimeNs)) toHash.push(b.path);
    }
    if (what.length) changes.push({ path: b.path, change: 'modified', what, before: a, after: b });
  }
  for (const a of old.values()) changes.push({ path: a.path, change: 'removed', what: [], before: a, after: null });
  return { changes, toHash };
}

/** The paths among `paths` whose content differs between the two mountpoints (sha256 inside the appliance). */
export async function differingContent(app: Appliance, mountA: string, mountB: string, paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < paths.length; i += CHUNK) {
    const chunk = paths.slice(i, i + CHUNK);
    const answers = await app.batch(chunk.flatMap((p) => [`checksum sha256 ${quote(join(mountA, p))}`, `checksum sha256 ${quote(join(mountB, p))}`]));
    chunk.forEach((p, j) => {
      const a = answers[2 * j]!;
      const b = answers[2 * j + 1]!;
      if (!a.ok || !b.ok || a.out !== b.out) out.push(p);
    });
  }
  return out;
}

export function byPath(changes: FileChange[]): FileChange[] {
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
