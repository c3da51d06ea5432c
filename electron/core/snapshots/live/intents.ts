// The crash-safe live snapshot operations (a running box; QEMU keeps running when the owner
// dies): their intent records and crash points.
import * as v from 'valibot';
import { intentKind, type IntentOf } from '../../operation-kind.js';
import { removeFacts } from '../intents.js';

export const liveCreate = intentKind(
  'live-create',
  (p) => v.object({
    ...p.base, op: v.literal('live-create'), boxId: p.id, snapshot: p.snapshot,
    generation: v.number(), oldTop: p.node, newTop: p.node, wasPaused: v.boolean(),
  }),
  ['after-intent', 'after-picture', 'after-overlay', 'after-freeze-fs', 'after-pause', 'after-vars', 'after-freeze', 'after-install', 'after-switch', 'after-resume', 'after-row'],
);
export type LiveCreateIntent = IntentOf<typeof liveCreate>;

export const liveRemove = intentKind(
  'live-remove',
  (p) => v.object({
    ...removeFacts(p), op: v.literal('live-remove'),
    /** The layer QEMU reads through that backs onto the removed snapshot (the live disk or a snapshot). */
    streamInto: p.dependent,
    /** Dependents QEMU does not read (other branches): rebased with qemu-img. */
    others: v.array(p.dependent),
  }),
  ['after-intent', 'after-job', 'after-stream', 'after-row', 'after-delete'],
);
export type LiveRemoveIntent = IntentOf<typeof liveRemove>;
