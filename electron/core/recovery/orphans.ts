// <home>/orphans: where recovery puts what it cannot place. Moved, never deleted: it may be
// someone's data, and only a person can tell.
import path from 'node:path';
import type { HomeData } from '../deps.js';
import { mkdirDurable, renameDurable } from '../fsutil.js';

/** Moves `from` into orphans/ under a dated name; returns where it went. */
export function intoOrphans(core: HomeData, from: string, label: string): string {
  mkdirDurable(core.paths.orphansDir);
  const to = path.join(core.paths.orphansDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${label}`);
  renameDurable(from, to);
  return to;
}
