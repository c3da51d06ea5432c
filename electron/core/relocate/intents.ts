// The crash-safe re-pointing of a home that was moved or copied: its intent record and crash points.
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../operation-kind.js';

const facts = v.object({ fileSize: v.number(), virtualSize: v.number(), headerDigest: v.string() });

/**
 * `from`: the folder the home was at (only compared with, never opened). Each layer to re-point:
 * its file and the file in this home it must back onto, and, for a snapshot's layer, the facts
 * recorded for it before (checked against the file first: only a layer that was exactly what
 * Boxkeep recorded is re-pointed).
 */
export const homeMove = intentKind(
  'home-move',
  (p) => v.object({
    ...p.base, op: v.literal('home-move'),
    from: v.pipe(v.string(), v.maxLength(4096), v.check((s) => s.startsWith('/'), 'not an absolute path')),
    layers: v.array(v.object({ path: p.inHome, backing: p.inHome, snapshotId: p.nullableId, facts: v.nullable(facts) })),
  }),
  ['after-intent', 'after-rows', 'after-rebase', 'after-layers'],
);
export type HomeMoveIntent = IntentOf<typeof homeMove>;
