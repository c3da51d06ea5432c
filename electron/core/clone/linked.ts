// A snapshot a linked clone backs onto is shared: the clone's disk reads through it. Removing
// it (or its whole box) is refused, naming the clones and how to go on, rather than merged
// into each clone's chain as well: that merge would rewrite another box's disks (perhaps a
// running one) inside this box's operation, across two boxes' queues and journals, and a crash
// there would have to be settled for both. Refusing keeps every operation on one box; a full
// clone of each linked clone (`box clone <clone> --full`) is the way to let the snapshot go.
// Removing an older snapshot under the shared one is allowed: the merge keeps what the shared
// snapshot's path reads (commit moves the merged file onto that path; rebase rewrites it in
// place with the same guest-visible bytes), and its recorded facts follow the file.
import { invalidState } from '../../../shared/errors.js';
import { shellWord, someOf } from '../../../shared/names.js';
import type { HomeData } from '../deps.js';

export function refuseIfLinked(core: HomeData, what: string, snapshotIds: readonly string[]): void {
  const clones = core.store.linkedClones(snapshotIds);
  if (clones.length === 0) return;
  const names = someOf(clones.map((c) => JSON.stringify(c.name)));
  const one = clones.length === 1;
  const first = clones[0]!.name;
  throw invalidState(
    `${what} is the base of the linked clone${one ? '' : 's'} ${names}: ${one ? 'its disk reads' : 'their disks read'} through it. ` +
      `Remove ${one ? 'that clone' : 'those clones'} first, or make ${one ? 'it' : 'each'} independent: a full clone of ${one ? 'it' : 'each'} (boxkeep box clone ${shellWord(first)} --full) is a copy that needs nothing of this box; then remove the linked clone.`,
  );
}
