// Putting a file back into Now (put-back.ts) as a crash-safe operation: its intent record and
// crash points. The record says where the copy is staged and where a folder it replaces steps
// aside (both named from the target's path and `token`), so recovery can tell how far it got.
import path from 'node:path';
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../operation-kind.js';

const guestPath = v.pipe(
  v.string(),
  v.maxLength(4096),
  v.check((p) => p !== '/' && path.posix.isAbsolute(p) && path.posix.normalize(p) === p && !p.endsWith('/') && !p.includes('\0'), 'an absolute guest path'),
);

export const filePut = intentKind(
  'file-put',
  (p) => v.object({
    ...p.base, op: v.literal('file-put'), boxId: p.id, snapshotId: p.id,
    /** The filesystem in Now, as libguestfs names it with the live disk alone (/dev/sda1, or /dev/sda for a whole disk). */
    filesystem: v.pipe(v.string(), v.regex(/^\/dev\/sda\d*$/)),
    path: guestPath,
    token: v.pipe(v.string(), v.regex(/^[0-9a-f]{12}$/)),
  }),
  ['after-intent', 'after-copy', 'after-aside', 'after-swap', 'after-cleanup'],
);
export type FilePutIntent = IntentOf<typeof filePut>;

/** The names beside the target a put uses: the staged copy, and where a folder it replaces steps aside. */
export function putNames(target: string, token: string): { staged: string; old: string } {
  const folder = path.posix.dirname(target);
  return { staged: path.posix.join(folder, `.boxkeep-put-${token}`), old: path.posix.join(folder, `.boxkeep-old-${token}`) };
}
