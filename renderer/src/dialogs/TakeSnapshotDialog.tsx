// Take snapshot: a readable name already filled in, an optional description, and the same
// name rules as the main process checked while typing.
import { useState } from 'react';
import { freeSnapshotName, timestampName } from '../../../shared/names.js';
import { useActions, useApp } from '../context.js';
import { fieldProblems, snapshotNameProblem } from '../validation.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { Field } from './Field.js';
import { useSubmit } from './useSubmit.js';

const NO_SNAPSHOTS: never[] = [];

export function TakeSnapshotDialog({ boxId }: { boxId: string }) {
  const actions = useActions();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const siblings = useApp((s) => s.trees[boxId]?.snapshots ?? NO_SNAPSHOTS);
  const [name, setName] = useState(() => freeSnapshotName(timestampName(), (name) => siblings.some((s) => s.name === name)));
  const [description, setDescription] = useState('');
  // On by default for a running box (issue 13): restoring it then resumes the machine, programs and all.
  const [memoryChosen, setMemory] = useState(true);
  const nameProblem = snapshotNameProblem(name, siblings);
  const descProblem = fieldProblems('snapshots:create', { box: boxId, name, description }).description ?? null;
  const canKeepMemory = box?.status === 'running';
  const memory = memoryChosen && canKeepMemory;
  const { busy, error, submit } = useSubmit(() => actions.takeSnapshot(boxId, name, description.trim(), memory), actions.closeDialog);
  if (!box) return null;
  const running = box.status === 'running' || box.status === 'paused';
  return (
    <Dialog
      title={`Take a snapshot of ${box.name}`}
      description={
        running ? (
          memory ? (
            <p>
              The box is running: its disk and its memory are saved at one instant while it carries on. Restoring this snapshot later resumes the
              running machine, programs and all. The memory takes up to {box.memoryMib} MiB more on disk.
            </p>
          ) : (
            <p>
              The box is {box.status}: it pauses for a moment while its disk is frozen, then carries on. Only the disk is saved, not the memory:
              restoring this snapshot later starts the box from this disk as if it had been switched off here.
            </p>
          )
        ) : (
          <p>Saves the box’s disk exactly as it is now. This takes a moment whatever the disk size; later changes go on top of it.</p>
        )
      }
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={() => void (!nameProblem && !descProblem && submit())}
      footer={
        <DialogButtons
          busy={busy}
          disabled={!!nameProblem || !!descProblem}
          label="Take snapshot"
          busyLabel="Taking snapshot…"
          tone="primary"
          onCancel={actions.closeDialog}
        />
      }
    >
      <Field label="Name" value={name} onChange={setName} problem={nameProblem} autoFocus selectOnFocus name="snapshot-name" />
      <Field
        label="Description (optional)"
        value={description}
        onChange={setDescription}
        problem={descProblem}
        multiline
        name="snapshot-description"
        placeholder="What is in this state, e.g. “before upgrading the database”"
      />
      {running && (
        <label className="check">
          <input type="checkbox" name="snapshot-memory" checked={memory} onChange={(e) => setMemory(e.target.checked)} disabled={busy || !canKeepMemory} />
          Include memory{canKeepMemory ? '' : ' (resume the box first)'}
        </label>
      )}
      <DialogError message={error} />
    </Dialog>
  );
}
