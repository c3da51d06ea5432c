// The crash-safe archive operations, their intent records and crash points: importing a
// .boxkeep file, and exporting one (its partial file beside the target, outside the home).
import path from 'node:path';
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../operation-kind.js';

/** Everything goes into new folders (the box's, and the image's when the archive has one); the rows, in one transaction, come last. */
export const boxImport = intentKind(
  'box-import',
  (p) => v.object({ ...p.base, op: v.literal('box-import'), boxId: p.id, imageId: p.nullableId }),
  ['after-intent', 'after-copy', 'after-rebase', 'after-row'],
);
export type BoxImportIntent = IntentOf<typeof boxImport>;

/**
 * The hidden partial file an export writes beside its target (`.<name>.<pid>-<start>-<hex>.partial`,
 * archive/export.ts): the one file outside the home a record may name, so only a file of that
 * form, in the target's own folder, is ever removed by its recovery.
 */
export const PARTIAL_NAME = /^\.(.+)\.\d+-\d+-[0-9a-f]{8}\.partial$/;
const isPartialOf = (partial: string, out: string) => {
  const m = PARTIAL_NAME.exec(path.basename(partial));
  return !!m && m[1] === path.basename(out) && path.dirname(partial) === path.dirname(out);
};
const absolute = v.pipe(v.string(), v.maxLength(4096), v.check((p) => path.isAbsolute(p) && path.normalize(p) === p, 'not an absolute path'));

/** Killed mid-way, an export leaves its partial file (as large as what it wrote); recovery removes it. */
export const boxExport = intentKind(
  'box-export',
  (p) => v.pipe(
    v.object({ ...p.base, op: v.literal('box-export'), boxId: p.id, out: absolute, partial: absolute }),
    v.check((i) => isPartialOf(i.partial, i.out), 'partial: not the partial file of the archive it names'),
  ),
  ['after-intent', 'after-write', 'after-land'],
);
export type BoxExportIntent = IntentOf<typeof boxExport>;
