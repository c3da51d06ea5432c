// Looking inside a snapshot from its details: how much changed since its parent, "Compare
// with…" (the changed files against another snapshot or Now), and a file browser that saves a
// copy to this machine or puts a file back into the stopped box. Every answer comes from the
// engine (libguestfs reads the disks; a file comparison takes tens of seconds the first time).
import { useEffect, useState } from 'react';
import type { Box, FileChange, GuestEntry, GuestFolder, Snapshot, SnapshotDiff, SnapshotTree } from '../../../shared/types.js';
import { isBusy } from '../../../shared/types.js';
import { useActions } from '../context.js';
import { formatBytes } from '../format.js';

/** "42 MiB changed since its parent", from the layers alone (instant). */
export function ChangedSinceParent({ box, snapshot, parent }: { box: Box; snapshot: Snapshot; parent: Snapshot }) {
  const actions = useActions();
  const [bytes, setBytes] = useState<number | null>(null);
  useEffect(() => {
    let live = true;
    setBytes(null);
    void actions.diffSnapshots({ box: box.id, from: parent.id, to: snapshot.id }).then((r) => live && r.ok && setBytes(r.value.changedBytes));
    return () => {
      live = false;
    };
  }, [actions, box.id, parent.id, snapshot.id]);
  if (bytes === null) return null;
  return <p className="hint changed-bytes">{formatBytes(bytes)} changed since its parent</p>;
}

export function InsidePanel({ box, tree, snapshot }: { box: Box; tree: SnapshotTree; snapshot: Snapshot }) {
  const actions = useActions();
  const others = tree.snapshots.filter((x) => x.id !== snapshot.id);
  const [compareTo, setCompareTo] = useState<string>(isBusy(box.status) ? (others[0]?.id ?? '') : 'now');
  const [diff, setDiff] = useState<SnapshotDiff | null>(null);
  const [folder, setFolder] = useState<GuestFolder | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  async function compare() {
    setBusy('Comparing the files… (the first time takes a while)');
    setProblem(null);
    const r = await actions.diffSnapshots({ box: box.id, from: snapshot.id, ...(compareTo === 'now' ? {} : { to: compareTo }), files: true });
    setBusy(null);
    if (r.ok) setDiff(r.value);
    else setProblem(r.error.message);
  }

  async function open(path: string) {
    setBusy(`Opening ${path}…`);
    setProblem(null);
    const r = await actions.snapshotFiles({ box: box.id, snapshot: snapshot.id, path, ...(folder ? { filesystem: folder.filesystem } : {}) });
    setBusy(null);
    if (r.ok) setFolder(r.value);
    else setProblem(r.error.message);
  }

  return (
    <section className="inside" aria-label="Inside this snapshot">
      <div className="inside-compare">
        <label>
          Compare with{' '}
          <select value={compareTo} onChange={(e) => setCompareTo(e.target.value)} aria-label="Compare with">
            {!isBusy(box.status) && <option value="now">Now</option>}
            {others.map((o) => (
              <option key={o.id} value={o.id}>{o.name}</option>
            ))}
          </select>
        </label>{' '}
        <button type="button" className="button" disabled={busy !== null || compareTo === ''} onClick={() => void compare()}>
          Compare with…
        </button>{' '}
        <button type="button" className="button" disabled={busy !== null} onClick={() => void open(folder?.entry.path ?? '/')}>
          Browse files
        </button>
      </div>
      {isBusy(box.status) && <p className="hint">The box is running: Now is compared only through a snapshot. Take one, then compare with it.</p>}
      {busy && <p role="status">{busy}</p>}
      {problem && <p className="error" role="alert">{problem}</p>}
      {diff && <Changes diff={diff} />}
      {folder && <Browser box={box} snapshot={snapshot} folder={folder} open={open} onProblem={setProblem} />}
    </section>
  );
}

function Changes({ diff }: { diff: SnapshotDiff }) {
  const mark = (c: FileChange) => (c.change === 'added' ? '+' : c.change === 'removed' ? '−' : '~');
  return (
    <section className="inside-changes" aria-label="Changed files">
      <p>
        {formatBytes(diff.changedBytes)} changed between {diff.from.name} and {diff.to.name}.
      </p>
      {diff.filesNote && <p className="hint">{diff.filesNote}</p>}
      {(diff.files ?? []).map((f) => (
        <div key={f.filesystem}>
          <h3>{f.filesystem} ({f.type})</h3>
          {f.problem ? <p className="hint">{f.problem}</p> : f.changes.length === 0 ? <p className="hint">No files changed.</p> : (
            <ul className="changes-list">
              {f.changes.map((c) => (
                <li key={c.path} className={`change-${c.change}`}>
                  <span aria-label={c.change}>{mark(c)}</span> {c.path}
                  {c.what.length > 0 && <span className="muted"> ({c.what.join(', ')})</span>}
                </li>
              ))}
            </ul>
          )}
        </div>
      ))}
    </section>
  );
}

function Browser({ box, snapshot, folder, open, onProblem }: { box: Box; snapshot: Snapshot; folder: GuestFolder; open: (path: string) => Promise<void>; onProblem: (p: string | null) => void }) {
  const actions = useActions();
  const [saving, setSaving] = useState<GuestEntry | null>(null);
  const [destination, setDestination] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const up = folder.entry.path === '/' ? null : folder.entry.path.replace(/\/[^/]*$/, '') || '/';

  async function save() {
    if (!saving) return;
    const r = await actions.saveSnapshotFile({ box: box.id, snapshot: snapshot.id, path: saving.path, destination, filesystem: folder.filesystem });
    if (r.ok) {
      setDone(`Saved a copy of ${saving.path} to ${r.value.destination}.`);
      setSaving(null);
    } else onProblem(r.error.message);
  }

  async function putBack(entry: GuestEntry) {
    const r = await actions.putSnapshotFile({ box: box.id, snapshot: snapshot.id, path: entry.path, filesystem: folder.filesystem });
    if (r.ok) setDone(`Put ${entry.path} back into ${box.name}.`);
    else onProblem(r.error.message);
  }

  return (
    <section className="inside-browser" aria-label="Files of the snapshot">
      <h3>
        {folder.filesystem} {folder.entry.path}
      </h3>
      {up && (
        <button type="button" className="button" onClick={() => void open(up)}>
          Up
        </button>
      )}
      <ul className="file-list">
        {folder.entries.map((e) => (
          <li key={e.path}>
            {e.kind === 'dir' ? (
              <button type="button" className="link-button" onClick={() => void open(e.path)}>
                {e.path.split('/').pop()}/
              </button>
            ) : (
              <span>{e.path.split('/').pop()}{e.kind === 'link' ? ` → ${e.target ?? ''}` : ''}</span>
            )}{' '}
            <span className="muted">{e.kind === 'file' ? formatBytes(e.size) : e.kind}</span>{' '}
            <button type="button" className="button small" aria-label={`Save a copy of ${e.path}`} onClick={() => { setSaving(e); setDone(null); }}>
              Save a copy…
            </button>{' '}
            <button type="button" className="button small" aria-label={`Put ${e.path} back into the box`} disabled={isBusy(box.status)} title={isBusy(box.status) ? 'Stop the box first' : undefined} onClick={() => void putBack(e)}>
              Put back into the box
            </button>
          </li>
        ))}
      </ul>
      {saving && (
        <form
          onSubmit={(ev) => {
            ev.preventDefault();
            void save();
          }}
        >
          <label>
            Save {saving.path} to (a new path on this machine){' '}
            <input value={destination} onChange={(e) => setDestination(e.target.value)} aria-label="Save to" placeholder="/home/me/restored" />
          </label>{' '}
          <button type="submit" className="button primary" disabled={!destination.startsWith('/')}>
            Save
          </button>
        </form>
      )}
      {done && <p role="status">{done}</p>}
    </section>
  );
}
