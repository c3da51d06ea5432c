// Copies of a box: Clone… (from a snapshot's details, or Now), Export… (the box or one snapshot
// into a .boxkeep file) and Import box… (such a file as a new box). Paths are typed (a web page
// cannot learn a file's path); export and import show their task's progress and can be cancelled.
import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { TaskKind } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { Progress } from '../components/Progress.js';
import { fieldProblems } from '../validation.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { Field } from './Field.js';
import { useFormSubmit } from './useSubmit.js';

const useTask = (kind: TaskKind) => useApp(useShallow((s) => Object.values(s.tasks).find((t) => t.kind === kind && !t.done) ?? null));

function CancelTask({ kind }: { kind: TaskKind }) {
  const actions = useActions();
  const task = useTask(kind);
  if (!task) return null;
  return <button type="button" className="button" onClick={() => void actions.cancelTask(task.taskId)}>Cancel {kind === 'box-export' ? 'export' : 'import'}</button>;
}

/** The desktop app's native file dialog beside a path field; nothing in a browser. */
function PickButton({ pick, disabled, onPicked, label }: { pick?: () => Promise<string | null>; disabled: boolean; onPicked(path: string): void; label: string }) {
  if (!pick) return null;
  return (
    <button type="button" className="button" disabled={disabled} onClick={async () => { const chosen = await pick(); if (chosen) onPicked(chosen); }}>
      {label}
    </button>
  );
}

export function CloneBoxDialog({ boxId, snapshotId }: { boxId: string; snapshotId: string | null }) {
  const actions = useActions();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const snapshot = useApp((s) => (snapshotId ? s.trees[boxId]?.snapshots.find((x) => x.id === snapshotId) : undefined));
  const task = useTask('box-clone');
  const [name, setName] = useState(`${box?.name ?? 'box'} clone`);
  const [full, setFull] = useState(false);
  const input = { box: boxId, name, ...(snapshotId ? { from: snapshotId } : {}), ...(full ? { full } : {}) };
  const problems = fieldProblems('boxes:clone', input);
  const { busy, error, onSubmit, blocked } = useFormSubmit(Object.keys(problems).length > 0, () => actions.cloneBox(input), actions.closeDialog);
  return (
    <Dialog
      title={`Clone ${box?.name ?? 'the box'}`}
      description={<p>A new box starting from {snapshot ? <>the snapshot <strong>{snapshot.name}</strong></> : 'its current state (a snapshot of it is taken first)'}, with its own network card address and no port forwards.</p>}
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={onSubmit}
      footer={<DialogButtons busy={busy} disabled={blocked} label="Clone" busyLabel="Cloning…" tone="primary" onCancel={actions.closeDialog} />}
    >
      <Field label="Name of the clone" value={name} onChange={setName} problem={problems.name} autoFocus selectOnFocus name="clone-name" />
      <fieldset className="choices">
        <label><input type="radio" name="clone-kind" checked={!full} onChange={() => setFull(false)} /> Linked: instant, takes no space; the snapshot stays shared and cannot be deleted while the clone exists</label>
        <label><input type="radio" name="clone-kind" checked={full} onChange={() => setFull(true)} /> Full: an independent copy of the disk</label>
      </fieldset>
      {busy && full && <Progress task={task} label="Copying the disk" />}
      <DialogError message={error} />
    </Dialog>
  );
}

export function ExportBoxDialog({ boxId, snapshotId }: { boxId: string; snapshotId: string | null }) {
  const actions = useActions();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const task = useTask('box-export');
  const [path, setPath] = useState('');
  const input = { box: boxId, path: path.trim(), ...(snapshotId ? { snapshot: snapshotId } : {}) };
  const problems = fieldProblems('boxes:export', input);
  const { busy, error, touched, touch, onSubmit, blocked } = useFormSubmit(Object.keys(problems).length > 0, () => actions.exportBox(input), actions.closeDialog);
  return (
    <Dialog
      title={`Export ${box?.name ?? 'the box'}`}
      description={<p>{snapshotId ? 'One snapshot, flattened into a box of its own,' : 'The box with all its snapshots'} goes into one .boxkeep file (compressed), which “Import box…” turns into a box again on any computer.</p>}
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={onSubmit}
      footer={<DialogButtons busy={busy} disabled={blocked} label="Export" busyLabel="Exporting…" tone="primary" onCancel={actions.closeDialog}><CancelTask kind="box-export" /></DialogButtons>}
    >
      <div className="field-with-button">
        <Field label="Save as (absolute path of a new file)" value={path} onChange={(v) => { setPath(v); touch(); }} problem={touched ? problems.path : null} autoFocus name="export-path" placeholder={`/home/me/${box?.name ?? 'box'}.boxkeep`} />
        <PickButton pick={actions.pickArchiveSavePath && (() => actions.pickArchiveSavePath!(`${box?.name ?? 'box'}.boxkeep`))} disabled={busy} onPicked={(p) => { setPath(p); touch(); }} label="Choose…" />
      </div>
      {busy && <Progress task={task} label="Exporting" />}
      <DialogError message={error} />
    </Dialog>
  );
}

export function ImportBoxDialog() {
  const actions = useActions();
  const task = useTask('box-import');
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const input = { path: path.trim(), ...(name ? { name } : {}) };
  const problems = fieldProblems('boxes:import', input);
  const { busy, error, touched, touch, onSubmit, blocked } = useFormSubmit(Object.keys(problems).length > 0, () => actions.importBox(input), actions.closeDialog);
  return (
    <Dialog
      title="Import a box"
      description={<p>A .boxkeep file made by “Export…”. It is checked whole before the box exists: a damaged or altered file is refused and leaves nothing behind.</p>}
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={onSubmit}
      footer={<DialogButtons busy={busy} disabled={blocked} label="Import" busyLabel="Importing…" tone="primary" onCancel={actions.closeDialog}><CancelTask kind="box-import" /></DialogButtons>}
    >
      <div className="field-with-button">
        <Field label="Archive file (absolute path)" value={path} onChange={(v) => { setPath(v); touch(); }} problem={touched ? problems.path : null} autoFocus name="import-path" placeholder="/home/me/web.boxkeep" />
        <PickButton pick={actions.pickArchiveFile} disabled={busy} onPicked={(p) => { setPath(p); touch(); }} label="Choose file…" />
      </div>
      <Field label="Name (optional)" value={name} onChange={setName} problem={problems.name} name="import-name" hint="Empty: the name in the file (with a suffix if it is taken)." />
      {busy && <Progress task={task} label="Importing" />}
      <DialogError message={error} />
    </Dialog>
  );
}
