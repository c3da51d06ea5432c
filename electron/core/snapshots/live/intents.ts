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

/**
 * Removing the snapshot the live disk backs onto by QEMU's active commit (commit.ts): the
 * live disk's clusters go down into the removed snapshot's file, which then takes the live path.
 */
export const liveCommit = intentKind(
  'live-commit',
  (p) => v.object({
    ...removeFacts(p), op: v.literal('live-commit'),
    /** The live disk (the only dependent QEMU reads here). */
    commitFrom: p.dependent,
    /** Dependents QEMU does not read (other branches): rebased with qemu-img before the commit. */
    others: v.array(p.dependent),
    wasPaused: v.boolean(),
    /** The nodes the live disk had, and the removed layer's nodes under a generation name (the next top). */
    oldTop: p.node, base: p.node, generation: v.number(),
    /** Set while the job waits in PENDING (both files read the same), before job-finalize pivots: from then on the removed snapshot's file is the live disk. */
    pivoted: v.optional(v.boolean()),
  }),
  ['after-intent', 'after-base', 'after-ready', 'after-pending', 'after-mark', 'after-pivot', 'after-rename', 'after-row', 'after-delete'],
);
export type LiveCommitIntent = IntentOf<typeof liveCommit>;
