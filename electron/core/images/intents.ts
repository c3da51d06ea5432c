// The crash-safe image operations: their intent records and crash points.
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../operation-kind.js';

export const imageImport = intentKind(
  'image-import',
  (p) => v.object({ ...p.base, op: v.literal('image-import'), imageId: p.id }),
  ['after-intent', 'after-convert', 'after-install', 'after-row'],
);
export type ImageImportIntent = IntentOf<typeof imageImport>;

export const imageRemove = intentKind(
  'image-remove',
  (p) => v.object({ ...p.base, op: v.literal('image-remove'), imageId: p.id }),
  ['after-intent', 'after-row', 'after-delete'],
);
export type ImageRemoveIntent = IntentOf<typeof imageRemove>;
