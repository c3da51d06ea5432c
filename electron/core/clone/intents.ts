// The crash-safe clone: its intent record and crash points. Like a box create, everything goes
// into the new box's folder and the row comes last, so recovery keeps a clone whose row exists
// and removes the folder of one that has none (boxes/settle.ts, settleBoxCreate).
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../operation-kind.js';

export const boxClone = intentKind(
  'box-clone',
  (p) => v.object({ ...p.base, op: v.literal('box-clone'), boxId: p.id, sourceBoxId: p.id }),
  ['after-intent', 'after-vars', 'after-disk', 'after-seed', 'after-row'],
);
export type BoxCloneIntent = IntentOf<typeof boxClone>;
