// The crash-safe re-pointing of a home that was moved or copied: its intent record and crash points.
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../operation-kind.js';

/**
 * `from`: the folder the home was at (only compared with, never opened). Each layer to re-point:
 * its file and the file in this home it must back onto. Checked again when acted on (relocate.ts
 * applyMove): each must be a layer of this home's own, the facts are the database's. `records`:
 * the intent records of operations interrupted before the home was moved, as they are to read
 * here (their paths in this home); each is written back only over its own file in one of this
 * home's journals, and checked against its kind's schema again when recovery settles it.
 */
const folder = v.pipe(v.string(), v.maxLength(4096), v.check((s) => s.startsWith('/'), 'not an absolute path'));

export const homeMove = intentKind(
  'home-move',
  (p) => v.object({
    ...p.base, op: v.literal('home-move'),
    from: folder,
    // The other folders, when the home was moved again before an earlier move was finished
    // (absent in records of earlier builds): each path is mapped from the folder it names.
    others: v.optional(v.array(folder), []),
    layers: v.array(v.object({ path: p.inHome, backing: p.inHome, snapshotId: p.nullableId })),
    // Absent in records written before interrupted operations were carried over.
    records: v.optional(v.array(v.object({ journal: p.inHome, record: v.looseObject({ id: p.id, op: v.pipe(v.string(), v.maxLength(64)), startedAt: v.number() }) })), []),
  }),
  ['after-intent', 'after-records', 'after-rows', 'after-rebase', 'after-layers'],
);
export type HomeMoveIntent = IntentOf<typeof homeMove>;
