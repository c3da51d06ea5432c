// What a box's chain must be, from the records: the layers disk/confine.ts compares the disk
// against. Paths come from paths.ts, never from a header, so a hand-edited header cannot
// steer a restore, a merge or a start anywhere else.
import fs from 'node:fs';
import { storageError } from '../../../shared/errors.js';
import type { Box, Snapshot } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { chainError, inspectLayers, newFileProblem, readLayerFacts, verifyChain, type Backing, type ExpectedLayer, type InspectOptions, type LayerProblem, type VerifiedLayer } from '../disk/confine.js';
import type { Dependent, SnapshotRemoveIntent } from './intents.js';

/** 'live': the box's live disk and everything under it; else the chain under that snapshot. */
export type ChainTop = 'live' | { snapshotId: string };

/**
 * The file the bottom of a box's tree backs onto: its image's disk; null for a box made for
 * installer media, whose first disk was blank and stands alone (no backing file at all).
 * A box whose image record is lost still expects the image: refusing is the safe side.
 */
export function chainRoot(core: HomeData, box: Box): string | null {
  if (box.linkedSnapshotId !== null) return linkedDisk(core, box.linkedSnapshotId);
  return box.imageId === null ? null : core.paths.imageDisk(box.imageId);
}

/**
 * A linked clone's tree stands on another box's snapshot: that snapshot's disk, in the source
 * box's folder (still inside the home, so confinement holds it to the same rules). A lost row
 * gives a path no file can have, so the check reports the layer missing.
 */
function linkedDisk(core: HomeData, snapshotId: string): string {
  const s = core.store.getSnapshot(snapshotId);
  return s ? core.paths.snapshotDisk(s.boxId, s.id) : core.paths.snapshotDisk('(lost)', snapshotId);
}

/** The layers under a box's own tree: its image; for a linked clone, the source's chain from the linked snapshot down. */
function baseLayers(core: HomeData, box: Box, withFacts: boolean, depth = 0): ExpectedLayer[] {
  if (box.linkedSnapshotId === null) return chainRoot(core, box) !== null ? [imageLayer(core, box, withFacts)] : [];
  const s = core.store.getSnapshot(box.linkedSnapshotId);
  const source = s ? core.store.getBox(s.boxId) : null;
  // A clone of a clone recurses; a loop only a hand-edited database could make stops here.
  if (!s || !source || depth > 64) {
    return [{ path: linkedDisk(core, box.linkedSnapshotId), what: `the snapshot the linked clone ${JSON.stringify(box.name)} is based on, which its records lost (${box.linkedSnapshotId})`, recordedPath: '(no record)', facts: null }];
  }
  return expectedChain(core, source, { snapshotId: s.id }, { facts: withFacts }, depth + 1);
}

/** Every snapshot id a box's live disk reads through, top first: its own, then a linked clone's source chain. */
export function snapshotIdsBelow(core: HomeData, box: Box): string[] {
  const ids: string[] = [];
  const limit = 100_000;
  let b: Box | null = box;
  let id = box.currentSnapshotId;
  for (let depth = 0; b && depth < 64; depth++) {
    for (; id && ids.length < limit; id = core.store.getSnapshot(id)?.parentId ?? null) ids.push(id);
    const linked: string | null = b.linkedSnapshotId;
    const s: Snapshot | null = linked ? core.store.getSnapshot(linked) : null;
    b = s ? core.store.getBox(s.boxId) : null;
    id = s ? s.id : null;
  }
  return ids;
}

/** Top first, down to the image (if the box has one); `facts: false` only confines (recovery replaying a merge,
 *  where a layer half-rewritten by the interrupted step legitimately differs from its record). */
export function expectedChain(core: HomeData, box: Box, top: ChainTop, opts: { facts?: boolean } = {}, depth = 0): ExpectedLayer[] {
  const { store, paths } = core;
  const withFacts = opts.facts ?? true;
  const label = JSON.stringify(box.name);
  const layers: ExpectedLayer[] = [];
  let snapshotId: string | null;
  if (top === 'live') {
    layers.push(liveLayer(core, box));
    snapshotId = box.currentSnapshotId;
  } else {
    snapshotId = top.snapshotId;
  }
  // Bounded by the row count: a parent loop in a hand-edited database cannot spin here.
  const limit = store.countSnapshots(box.id) + 1;
  for (let n = 0; snapshotId !== null; n++) {
    const s = n < limit ? store.getSnapshot(snapshotId) : null;
    if (!s || s.boxId !== box.id) {
      layers.push({ path: paths.snapshotDisk(box.id, snapshotId), what: `a snapshot of the box ${label} that its records lost (${snapshotId})`, recordedPath: '(no record)', facts: null });
      return layers;
    }
    layers.push(snapshotLayer(core, box, s, withFacts));
    snapshotId = s.parentId;
  }
  layers.push(...baseLayers(core, box, withFacts, depth));
  return layers;
}

function liveLayer(core: HomeData, box: Box): ExpectedLayer {
  return { path: core.paths.liveDisk(box.id), what: `the live disk of the box ${JSON.stringify(box.name)}`, recordedPath: box.liveDiskPath, facts: null };
}

/** Only for a box with an image under its tree (chainRoot not null). */
function imageLayer(core: HomeData, box: Box, withFacts: boolean): ExpectedLayer {
  const imageId = box.imageId!;
  const image = core.store.getImage(imageId);
  return {
    path: core.paths.imageDisk(imageId),
    what: image ? `the image ${JSON.stringify(image.name)}` : `the image of the box ${JSON.stringify(box.name)}`,
    recordedPath: image?.path ?? '(no record)',
    facts: withFacts && image ? core.store.imageFacts(image.id) : null,
  };
}

export function snapshotLayer(core: HomeData, box: Box, s: Snapshot, withFacts = true): ExpectedLayer {
  return {
    path: core.paths.snapshotDisk(box.id, s.id),
    what: `snapshot ${JSON.stringify(s.name)} of the box ${JSON.stringify(box.name)}`,
    recordedPath: s.diskPath,
    facts: withFacts ? core.store.snapshotFacts(s.id) : null,
  };
}

/** Throws a Storage error naming the first layer that is not what Boxkeep made. */
export function verifyBoxChain(core: HomeData, box: Box, top: ChainTop, opts: { facts?: boolean } = {}): VerifiedLayer[] {
  return verifyChain(core.paths.root, expectedChain(core, box, top, opts));
}

/**
 * Before a running box's merge of a snapshot into the layer QEMU reads above it: those two
 * layers, each against the layer its record puts under it. QEMU reads the whole chain through
 * the files it opened at start (each layer checked then, and again before it was frozen); what a
 * live merge does by path touches only these two (QEMU's node for the removed layer reopened or
 * added by name, the renames, the trash). One or two layers, where the whole chain cost ~0.1 ms
 * a layer: an hourly AutoProtect chain is hundreds deep. Other dependents are rebased by
 * qemu-img, which opens every layer by path: their whole chains are checked (verifyBoxChain).
 */
export function verifyLiveMergeLayers(core: HomeData, box: Box, dependent: ChainTop, removed: Snapshot): void {
  const { store, paths } = core;
  const above = dependent === 'live' ? liveLayer(core, box) : store.getSnapshot(dependent.snapshotId);
  // A dependent whose record is lost, or is not this box's: the whole walk says so, as at every other use.
  if (above === null || ('boxId' in above && above.boxId !== box.id)) {
    verifyBoxChain(core, box, dependent);
    return;
  }
  const below = removed.parentId === null ? chainRoot(core, box) : paths.snapshotDisk(box.id, removed.parentId);
  const { problems } = inspectLayers(paths.root, [
    { layer: 'boxId' in above ? snapshotLayer(core, box, above) : above, backing: paths.snapshotDisk(box.id, removed.id) },
    { layer: snapshotLayer(core, box, removed), backing: below },
  ]);
  if (problems[0]) throw chainError(problems[0]);
}

/**
 * The live disk alone: Boxkeep's file, in its place, backing onto the current snapshot (or the
 * chain's root). What a snapshot create must know before it freezes the live disk; the frozen
 * layers under it were checked when they were frozen and are checked again, with their facts,
 * before every start, restore and merge. One layer, where the whole chain cost ~0.5 ms a layer.
 */
export function verifyLiveDisk(core: HomeData, box: Box): VerifiedLayer {
  const current = box.currentSnapshotId === null ? null : core.store.getSnapshot(box.currentSnapshotId);
  // A current snapshot whose record is lost: the whole walk says so, as at every other use.
  if (box.currentSnapshotId !== null && current?.boxId !== box.id) return verifyBoxChain(core, box, 'live')[0]!;
  const below = box.currentSnapshotId === null ? chainRoot(core, box) : core.paths.snapshotDisk(box.id, box.currentSnapshotId);
  const { verified, problems } = inspectLayers(core.paths.root, [{ layer: liveLayer(core, box), backing: below }]);
  if (problems[0]) throw chainError(problems[0]);
  return verified[0]!;
}

/**
 * Where a new snapshot's folder is made and the live disk renamed into, both by path: the
 * snapshots folder swapped for a link to a folder elsewhere would move the disk out of the home
 * and commit a row no start or restore accepts. Checked before anything is made, live or not.
 */
export function verifyNewSnapshotPlace(core: HomeData, box: Box, snapshotId: string, name: string): void {
  const dir = core.paths.snapshotDir(box.id, snapshotId);
  const problem = newFileProblem(core.paths.root, core.paths.snapshotDisk(box.id, snapshotId));
  if (problem) {
    throw storageError(
      `The snapshot ${JSON.stringify(name)} of the box ${JSON.stringify(box.name)} was not taken: its folder ${dir} would not be inside the home (${problem}). ` +
        'Nothing was moved or written. Put a real folder in place of the link (with what the link points at moved into it), then take the snapshot again.',
    );
  }
}

/**
 * Every layer of a box's tree, each inspected once against the layer its record puts under
 * it: the live disk, every snapshot, the image. For recovery and `boxkeep check`.
 */
export function boxProblems(core: HomeData, box: Box, opts: InspectOptions = {}): { entries: TreeEntry[]; problems: LayerProblem[]; verified: (VerifiedLayer | null)[] } {
  const entries = treeEntries(core, box);
  return { entries, ...inspectLayers(core.paths.root, entries, opts) };
}

export interface TreeEntry { layer: ExpectedLayer; backing: string | null; snapshotId: string | null; kind: 'live' | 'snapshot' | 'image' }

function treeEntries(core: HomeData, box: Box): TreeEntry[] {
  const { store, paths } = core;
  const root = chainRoot(core, box);
  const below = (id: string | null) => (id === null ? root : paths.snapshotDisk(box.id, id));
  const live = liveLayer(core, box);
  const entries: TreeEntry[] = [{ layer: live, backing: below(box.currentSnapshotId), snapshotId: null, kind: 'live' }];
  for (const s of store.listSnapshots(box.id)) entries.push({ layer: snapshotLayer(core, box, s), backing: below(s.parentId), snapshotId: s.id, kind: 'snapshot' });
  // A linked clone's base is the source box's snapshot: checked with the source's own tree.
  if (root !== null && box.linkedSnapshotId === null) entries.push({ layer: imageLayer(core, box, true), backing: null, snapshotId: null, kind: 'image' });
  return entries;
}

/**
 * Before recovery re-runs an interrupted removal's merge: the chain under the removed
 * snapshot must be intact (it is read, never written), and the removed snapshot and its
 * dependents must be Boxkeep's files inside the home, backing onto the removed snapshot or,
 * where the merge already got to them, onto its parent. Their facts are not compared: the
 * interrupted step may have rewritten them. Returns the first problem, or null.
 */
export function interruptedMergeProblem(core: HomeData, intent: Pick<SnapshotRemoveIntent, 'boxId' | 'snapshotId' | 'snapshotPath' | 'parentId' | 'parentPath' | 'dependents'>): LayerProblem | null {
  const box = core.store.getBox(intent.boxId);
  if (!box) return null;
  const below = intent.parentId ? expectedChain(core, box, { snapshotId: intent.parentId }) : baseLayers(core, box, true);
  const entries: { layer: ExpectedLayer; backing: Backing }[] = below.map((layer, i) => ({ layer, backing: below[i + 1]?.path ?? null }));
  const removed = core.store.getSnapshot(intent.snapshotId);
  // parentPath null: the removed snapshot was a blank root, and what it is merged into stands alone.
  const onto = intent.parentPath === null ? [intent.snapshotPath, null] : [intent.snapshotPath, intent.parentPath];
  // Commit mode moves the removed snapshot's file onto its dependent: once moved, it is gone.
  if (removed && fs.existsSync(intent.snapshotPath)) entries.push({ layer: snapshotLayer(core, box, removed, false), backing: onto });
  for (const d of intent.dependents) {
    const s = d.snapshotId ? core.store.getSnapshot(d.snapshotId) : null;
    const layer = s ? snapshotLayer(core, box, s, false) : d.snapshotId ? null : liveLayer(core, box);
    if (layer) entries.push({ layer: { ...layer, recordedPath: d.path }, backing: onto });
  }
  return inspectLayers(core.paths.root, entries).problems[0] ?? null;
}

/**
 * Layers frozen before facts were kept (a home from an older Boxkeep) get them the first time
 * they are found confined: trust on first use, so from then on truncation is caught for them too.
 */
export function recordMissingFacts(core: HomeData, box: Box, found: { entries: TreeEntry[]; verified: (VerifiedLayer | null)[] }): void {
  found.entries.forEach((entry, i) => {
    if (!found.verified[i] || entry.layer.facts !== null || entry.kind === 'live') return;
    const facts = readLayerFacts(entry.layer.path);
    if (entry.kind === 'snapshot') core.store.setSnapshotFacts(entry.snapshotId!, facts);
    else if (box.imageId !== null && core.store.getImage(box.imageId)) core.store.setImageFacts(box.imageId, facts);
  });
}

/** Records what a snapshot's file is now: when it is frozen, and when a merge rewrote it. */
export function recordSnapshotFacts(core: HomeData, snapshotId: string, file: string): void {
  core.store.setSnapshotFacts(snapshotId, readLayerFacts(file));
}

/**
 * Does a snapshot operation's record agree with the home before recovery acts on it? Every
 * path it names must be the file the home keeps for what it names (a snapshot's disk, the live
 * disk), a snapshot it takes must be its box's, and a removal must list every row still backing
 * onto the removed snapshot. Only Boxkeep writes these records; one that disagrees (edited by
 * hand, or from another home) would have recovery move or delete a snapshot it is not about.
 * Returns what disagrees, or null (also for other kinds of record).
 */
export function snapshotRecordProblem(core: HomeData, intent: Record<string, unknown>): string | null {
  const r = intent as Record<string, never>;
  switch (intent.op) {
    case 'snapshot-create':
    case 'live-create': {
      const s = r.snapshot as Snapshot;
      if (s.boxId !== r.boxId) return `its snapshot is recorded for the box ${s.boxId}, not ${r.boxId as string}`;
      return diskRecordProblem(core, s.boxId, s.id, s.diskPath);
    }
    case 'snapshot-restore':
      return diskRecordProblem(core, r.boxId, r.snapshotId, r.snapshotPath);
    case 'snapshot-remove':
    case 'live-remove':
    case 'live-commit': {
      const named = [r.streamInto, r.commitFrom, ...((r.others as Dependent[] | undefined) ?? [])].filter((d): d is Dependent => d !== undefined);
      const listed = new Set((r.dependents as Dependent[]).map((d) => `${d.snapshotId}\0${d.path}`));
      const stray = named.find((d) => !listed.has(`${d.snapshotId}\0${d.path}`));
      if (stray) return `it merges into ${stray.path}, which is not among its dependents`;
      return removalRecordProblem(core, intent as unknown as SnapshotRemoveIntent);
    }
    default:
      return null;
  }
}

/**
 * Does a removal's record agree with the home before recovery acts on it: the removed disk and
 * each dependent's are their own files, and every row still backing onto the snapshot (a child, or the live
 * disk when it is current) is among the dependents the removal merges. A record that names
 * another file, or leaves out a child, would delete a snapshot others still read. Returns what
 * disagrees, or null.
 */
export function removalRecordProblem(core: HomeData, intent: Pick<SnapshotRemoveIntent, 'boxId' | 'snapshotId' | 'snapshotPath' | 'dependents'>): string | null {
  const wrong = diskRecordProblem(core, intent.boxId, intent.snapshotId, intent.snapshotPath);
  if (wrong) return wrong;
  for (const d of intent.dependents) {
    const own = d.snapshotId === null ? core.paths.liveDisk(intent.boxId) : core.paths.snapshotDisk(intent.boxId, d.snapshotId);
    if (d.path !== own) return `it names ${d.path} as the disk of ${d.snapshotId === null ? 'the live disk' : `the snapshot ${d.snapshotId}`}, not ${own}`;
  }
  const listed = new Set(intent.dependents.map((d) => d.snapshotId));
  const left = core.store.listSnapshots(intent.boxId).filter((s) => s.parentId === intent.snapshotId && !listed.has(s.id)).map((s) => JSON.stringify(s.name));
  if (core.store.getBox(intent.boxId)?.currentSnapshotId === intent.snapshotId && !listed.has(null)) left.push('the live disk');
  return left.length > 0 ? `${left.join(', ')} still back${left.length === 1 ? 's' : ''} onto it and ${left.length === 1 ? 'is' : 'are'} not among what it merges` : null;
}

/**
 * Does a snapshot's record name that snapshot's own file (every snapshot's disk lives at
 * boxes/<box>/snapshots/<id>/container.qcow2)? A record naming another snapshot's file would
 * have recovery move or delete a snapshot it is not about. Returns what disagrees, or null.
 */
export function diskRecordProblem(core: HomeData, boxId: string, snapshotId: string, recorded: string): string | null {
  const own = core.paths.snapshotDisk(boxId, snapshotId);
  return recorded === own ? null : `it names ${recorded} as the snapshot's disk, not ${own}`;
}
