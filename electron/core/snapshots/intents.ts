// The crash-safe offline snapshot operations: their intent records and crash points.
import * as v from 'valibot';
import { intentKind, type IntentOf, type IntentParts } from '../operation-kind.js';

export const snapshotCreate = intentKind(
  'snapshot-create',
  (p) => v.object({ ...p.base, op: v.literal('snapshot-create'), boxId: p.id, snapshot: p.snapshot }),
  ['after-intent', 'after-overlay', 'after-freeze', 'after-install', 'after-row', 'after-vars'],
);
export type SnapshotCreateIntent = IntentOf<typeof snapshotCreate>;

export const snapshotRestore = intentKind(
  'snapshot-restore',
  (p) => v.object({ ...p.base, op: v.literal('snapshot-restore'), boxId: p.id, snapshotId: p.id, snapshotPath: p.inHome, previousCurrentId: p.nullableId }),
  ['after-intent', 'after-overlay', 'after-install', 'after-row', 'after-vars', 'after-vars-install'],
);
export type SnapshotRestoreIntent = IntentOf<typeof snapshotRestore>;

/** What a removal records, offline or live: the fields the row and file steps work from. */
export function removeFacts(p: IntentParts) {
  return {
    ...p.base, boxId: p.id, snapshotId: p.id, snapshotPath: p.inHome,
    /** What the removed snapshot backed onto: its parent's disk, or the image; null: nothing
     *  (a blank root, whose dependents then stand alone). */
    parentPath: v.nullable(p.inHome),
    /** The removed snapshot's parent (null: the image), where its dependents move. */
    parentId: p.nullableId,
    mode: v.picklist(['delete', 'commit', 'rebase']),
    dependents: v.array(p.dependent),
  };
}

export const snapshotRemove = intentKind(
  'snapshot-remove',
  (p) => v.object({ ...removeFacts(p), op: v.literal('snapshot-remove') }),
  ['after-intent', 'after-merge', 'after-swap', 'after-row', 'after-delete'],
);
export type SnapshotRemoveIntent = IntentOf<typeof snapshotRemove>;
export type RemoveMode = SnapshotRemoveIntent['mode'];
export type Dependent = SnapshotRemoveIntent['dependents'][number];
/** What the row and file steps of a removal need, shared by the offline and live variants. */
export type RemoveFacts = Pick<SnapshotRemoveIntent, 'boxId' | 'snapshotId' | 'snapshotPath' | 'parentPath' | 'parentId' | 'dependents'>;
