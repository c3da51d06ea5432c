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
    /** A snapshot with memory (memory.ts): what the state file will need at a restore. */
    memory: v.optional(v.object({ qemuVersion: v.string(), machine: v.string(), deviceHash: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) })),
    /** The overlay and the variables' copy are on disk (set before the switch): a QEMU found dead is completed forward. */
    ready: v.optional(v.boolean()),
  }),
  ['after-intent', 'after-picture', 'after-overlay', 'after-freeze-fs', 'after-pause', 'after-vars', 'after-freeze', 'after-install', 'after-switch', 'after-resume', 'after-row', 'after-migrate', 'after-memory'],
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

/** live-create's points that only a snapshot with memory reaches: only it pauses the guest (create.ts). */
export const MEMORY_ONLY_POINTS: readonly string[] = ['after-pause'];
