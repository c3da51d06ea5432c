// The snapshot tab: the tree on the left, the selected row's details and actions on the right.
import { useEffect, useMemo, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { SNAPSHOT_TAKEN_WORDS, type Box, type BoxDetail, type Snapshot, type SnapshotTaken, type SnapshotTree as Tree } from '../../../shared/types.js';
import { useActions, useApp, useSession } from '../context.js';
import { exactTime, formatBytes, linkedSource, plural, relativeTime, treeBase } from '../format.js';
import { refusedResume, useMemoryResume, useNow } from '../hooks.js';
import { ariaShortcut, shortcutLabel } from '../keyboard.js';
import { layoutTree, NOW_KEY, type TreeLayout } from '../tree/layout.js';
import { SnapshotTree } from '../tree/SnapshotTree.js';
import { Icon } from './icons.js';
import { ChangedSinceParent, InsidePanel } from './SnapshotInside.js';

export function SnapshotPane({ box, detail }: { box: Box; detail: BoxDetail | null }) {
  const tree = useApp((s) => s.trees[box.id] ?? null);
  // The previous layout lets unchanged rows keep their objects (and skip redrawing).
  const previous = useRef<TreeLayout | null>(null);
  const layout = useMemo(() => (tree ? layoutTree(tree, previous.current) : null), [tree]);
  useEffect(() => {
    previous.current = layout;
  }, [layout]);
  if (!tree || !layout) return <p className="loading" role="status">Loading snapshots…</p>;
  return (
    <div className="snapshot-pane">
      <SnapshotTree box={box} detail={detail} tree={tree} layout={layout} />
      <Details box={box} detail={detail} tree={tree} layout={layout} />
    </div>
  );
}

function Details({ box, detail, tree, layout }: { box: Box; detail: BoxDetail | null; tree: Tree; layout: TreeLayout }) {
  const selectedKey = useApp((s) => s.selectedRow[box.id] ?? NOW_KEY);
  const index = layout.indexByKey.get(selectedKey) ?? layout.rows.length - 1;
  const row = layout.rows[index]!;
  return (
    <aside className="details" aria-label="Selected item">
      {row.kind === 'snapshot' ? (
        <SnapshotDetails box={box} tree={tree} snapshot={row.snapshot} childIds={row.childIds} isCurrent={row.isCurrent} />
      ) : row.kind === 'now' ? (
        <NowDetails box={box} tree={tree} parentId={row.parentId} />
      ) : (
        <BaseDetails detail={detail} />
      )}
    </aside>
  );
}

/**
 * What a snapshot's kept memory gives a restore now: asked of the engine, again whenever the
 * box's settings change (its status, current snapshot or a stop's deadline are not settings).
 */
function MemoryFact({ box, snapshot, size }: { box: Box; snapshot: Snapshot; size: number }) {
  const { status: _s, failureReason: _f, stopDeadline: _d, currentSnapshotId: _c, ...settings } = box;
  const answer = useMemoryResume(box.id, snapshot.id, `${size}:${JSON.stringify(settings)}`);
  const kept = `${formatBytes(size)} kept`;
  const refused = refusedResume(answer);
  if (refused !== null) return <>{kept}, but it can’t be resumed now: {refused}. Restoring it restores the disk only.</>;
  if (answer !== null && 'resumable' in answer) return <>{kept}: restoring it resumes the machine from the moment it was taken</>;
  return <>{kept}</>;
}

function SnapshotDetails({ box, tree, snapshot: s, childIds, isCurrent }: { box: Box; tree: Tree; snapshot: Snapshot; childIds: string[]; isCurrent: boolean }) {
  const base = treeBase(useApp((st) => st.details[box.id] ?? null));
  const actions = useActions();
  const { keys } = useSession();
  const now = useNow(30_000);
  const parent = tree.snapshots.find((x) => x.id === s.parentId);
  const children = childIds.map((id) => tree.snapshots.find((x) => x.id === id)!).filter(Boolean);
  const clones = useApp(useShallow((st) => st.boxes.filter((b) => b.linkedSnapshotId === s.id).map((b) => `the linked clone ${b.name}`)));
  const dependents = [...children.map((c) => c.name), ...clones];
  return (
    <>
      <h2 className="details-title">{s.name}</h2>
      <p className={s.description ? 'details-desc' : 'details-desc muted'}>{s.description || 'No description.'}</p>
      <dl className="facts">
        <dt>Taken</dt>
        <dd>
          {exactTime(s.createdAt)} <span className="muted">({relativeTime(s.createdAt, now)})</span>
        </dd>
        <dt>How</dt>
        <dd>{takenWords(s.taken)}</dd>
        <dt>Space it uses</dt>
        <dd>{formatBytes(s.sizeOnDisk)}</dd>
        {s.memory && (
          <>
            <dt>Memory</dt>
            <dd data-testid="memory-fact">
              <MemoryFact box={box} snapshot={s} size={s.memory.size} />
            </dd>
          </>
        )}
        <dt>Comes after</dt>
        <dd>{parent ? parent.name : base.the}</dd>
        <dt>Kept</dt>
        <dd>{s.pinned ? 'Pinned: AutoProtect never removes it' : s.auto ? 'Taken by AutoProtect; removed when its retention no longer keeps it' : 'Until you delete it'}</dd>
        <dt>Depend on it</dt>
        <dd>{dependents.length ? dependents.join(', ') : isCurrent ? 'only the current state' : 'nothing'}</dd>
      </dl>
      {parent && <ChangedSinceParent box={box} snapshot={s} parent={parent} />}
      {s.hasPicture && <SnapshotPicture boxId={box.id} snapshot={s} />}
      {isCurrent && <p className="hint">“Now” hangs under this snapshot: the box’s current disk builds on it.</p>}
      <div className="details-actions">
        <button
          type="button"
          className="button primary"
          title={`Restore (${shortcutLabel('restore', keys)})`}
          aria-keyshortcuts={ariaShortcut('restore', keys)}
          onClick={() => actions.openDialog({ kind: 'restore', boxId: box.id, snapshotId: s.id })}
        >
          <Icon name="restore" /> Restore…
        </button>
        <button
          type="button"
          className="button"
          title={`Rename or describe (${shortcutLabel('editSnapshot', keys)})`}
          aria-keyshortcuts={ariaShortcut('editSnapshot', keys)}
          onClick={() => actions.openDialog({ kind: 'editSnapshot', boxId: box.id, snapshotId: s.id })}
        >
          <Icon name="edit" /> Edit…
        </button>
        <button type="button" className="button" aria-pressed={s.pinned} onClick={() => void actions.pinSnapshot(box.id, s.id, !s.pinned)}>
          {s.pinned ? 'Unpin' : 'Pin'}
        </button>
        <button type="button" className="button" onClick={() => actions.openDialog({ kind: 'cloneBox', boxId: box.id, snapshotId: s.id })}>
          Clone…
        </button>
        <button type="button" className="button" onClick={() => actions.openDialog({ kind: 'exportBox', boxId: box.id, snapshotId: s.id })}>
          Export…
        </button>
        <button
          type="button"
          className="button danger-outline"
          title={`Delete (${shortcutLabel('deleteSnapshot', keys)})`}
          aria-keyshortcuts={ariaShortcut('deleteSnapshot', keys)}
          onClick={() => actions.openDialog({ kind: 'deleteSnapshot', boxId: box.id, snapshotId: s.id })}
        >
          <Icon name="trash" /> Delete…
        </button>
      </div>
      <InsidePanel key={s.id} box={box} tree={tree} snapshot={s} />
    </>
  );
}

/** The screen as it was when a live snapshot was taken, fetched when the snapshot is shown. */
export function SnapshotPicture({ boxId, snapshot }: { boxId: string; snapshot: Snapshot }) {
  const actions = useActions();
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setUrl(null);
    void actions.snapshotPicture(boxId, snapshot.id).then((u) => live && setUrl(u));
    return () => {
      live = false;
    };
  }, [actions, boxId, snapshot.id]);
  if (!url) return null;
  return <img className="snapshot-picture" src={url} width={320} alt={`The screen of the box when “${snapshot.name}” was taken`} />;
}

function NowDetails({ box, tree, parentId }: { box: Box; tree: Tree; parentId: string | null }) {
  const base = treeBase(useApp((st) => st.details[box.id] ?? null));
  const actions = useActions();
  const { keys } = useSession();
  const parent = tree.snapshots.find((x) => x.id === parentId);
  return (
    <>
      <h2 className="details-title">Now</h2>
      <p className="details-desc">
        The current state of {box.name}
        {parent ? `: the snapshot “${parent.name}” plus every change made since.` : `: ${base.the} plus every change made since.`}
      </p>
      {tree.snapshots.length === 0 ? (
        <p className="hint">No snapshots yet. Take one before you try something risky; you can come back to it at any time.</p>
      ) : (
        <p className="hint">{plural(tree.snapshots.length, 'snapshot')} in this box. Select one to restore, rename or delete it.</p>
      )}
      <div className="details-actions">
        <button
          type="button"
          className="button primary"
          title={`Take snapshot (${shortcutLabel('takeSnapshot', keys)})`}
          aria-keyshortcuts={ariaShortcut('takeSnapshot', keys)}
          onClick={() => actions.openDialog({ kind: 'takeSnapshot', boxId: box.id })}
        >
          <Icon name="camera" /> Take snapshot
        </button>
      </div>
    </>
  );
}

function BaseDetails({ detail }: { detail: BoxDetail | null }) {
  const linked = linkedSource(detail);
  if (linked) {
    return (
      <>
        <h2 className="details-title">Linked clone</h2>
        <p className="details-desc" data-testid="linked-source">This box is a linked clone of {linked}: its disk reads through that snapshot, which stays as long as this box does. Every snapshot of this box builds on it.</p>
      </>
    );
  }
  if (detail && !detail.image) {
    return (
      <>
        <h2 className="details-title">Blank disk</h2>
        <p className="details-desc">This box’s disk started blank and was installed from {detail.installedFrom ? `“${detail.installedFrom}”` : 'installer media'}, which is not part of its disk: every snapshot builds on what was installed.</p>
      </>
    );
  }
  return (
    <>
      <h2 className="details-title">Base image</h2>
      <p className="details-desc">Every snapshot of this box builds on this image. It is never changed.</p>
      {detail?.image && (
        <dl className="facts">
          <dt>Image</dt>
          <dd>{detail.image.name}</dd>
          <dt>Disk size</dt>
          <dd>{formatBytes(detail.image.virtualSize)}</dd>
          <dt>Space it uses</dt>
          <dd>{formatBytes(detail.image.sizeOnDisk)}</dd>
        </dl>
      )}
    </>
  );
}

/** "While the box ran, disk only (crash-consistent)": how a snapshot was taken, as a fact line. */
function takenWords(taken: SnapshotTaken): string {
  const words = SNAPSHOT_TAKEN_WORDS[taken];
  return words.charAt(0).toUpperCase() + words.slice(1);
}
