// The crash-safe archive operation: importing a .boxkeep file, its intent record and crash points.
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../operation-kind.js';

/** Everything goes into new folders (the box's, and the image's when the archive has one); the rows, in one transaction, come last. */
export const boxImport = intentKind(
  'box-import',
  (p) => v.object({ ...p.base, op: v.literal('box-import'), boxId: p.id, imageId: p.nullableId }),
  ['after-intent', 'after-copy', 'after-rebase', 'after-row'],
);
export type BoxImportIntent = IntentOf<typeof boxImport>;
