// The crash-safe box operations: their intent records and crash points.
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../operation-kind.js';

export const boxCreate = intentKind(
  'box-create',
  (p) => v.object({ ...p.base, op: v.literal('box-create'), boxId: p.id }),
  ['after-intent', 'after-vars', 'after-overlay', 'after-seed', 'after-row'],
);
export type BoxCreateIntent = IntentOf<typeof boxCreate>;

export const boxRemove = intentKind(
  'box-remove',
  (p) => v.object({ ...p.base, op: v.literal('box-remove'), boxId: p.id }),
  ['after-intent', 'after-row', 'after-delete'],
);
export type BoxRemoveIntent = IntentOf<typeof boxRemove>;

/** Growing the live disk: the file first (one qemu-img resize), then the row, which settle sets from the file. */
export const boxResize = intentKind(
  'box-resize',
  (p) => v.object({ ...p.base, op: v.literal('box-resize'), boxId: p.id, virtualSize: v.number() }),
  ['after-intent', 'after-resize'],
);
export type BoxResizeIntent = IntentOf<typeof boxResize>;
