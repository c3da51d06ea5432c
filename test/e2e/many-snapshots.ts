// A box with many snapshots in seconds: see bench/seed-tree.mjs (shared with the render bench).
import type { Core } from '../../electron/core/core.js';
// @ts-expect-error plain JavaScript shared with bench/, which cannot import TypeScript
import * as seed from '../../bench/seed-tree.mjs';

export interface SeededTree {
  /** Snapshot ids in the order they were "taken". */
  ids: string[];
  names: string[];
}

export const seededName: (i: number) => string = seed.seededName;
export const seedSnapshots: (core: Core, boxRef: string, count: number) => Promise<SeededTree> = seed.seedSnapshots;
