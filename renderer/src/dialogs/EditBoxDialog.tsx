// Edit a box's settings: CPUs, memory, disk size (grow only), network, port forwards, the
// display and the stop timeout, each checked as typed by the contract's schema. A running box keeps what it
// runs with until its next start, and the dialog says so before anything is saved.
import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { ChannelInput } from '../../../shared/channels.js';
import { formatForward } from '../../../shared/forwards.js';
import { isBusy, type Box, type DisplayMode, type NetworkMode } from '../../../shared/types.js';
import { useActions, useApp } from '../context.js';
import { formatBytes, joinWords } from '../format.js';
import { fieldProblems, numberField } from '../validation.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { Field } from './Field.js';
import { DisplayField } from './DisplayField.js';
import { NetworkFields } from './NetworkFields.js';
import { RESOURCE_LABELS, ResourceFields } from './ResourceFields.js';
import { useFormSubmit } from './useSubmit.js';

const GiB = 1024 ** 3;
const LABELS = { ...RESOURCE_LABELS, stopTimeoutSec: 'Stop timeout (seconds)' };

export function EditBoxDialog({ boxId }: { boxId: string }) {
  const actions = useActions();
  const box = useApp((s) => s.boxes.find((b) => b.id === boxId));
  const [cpus, setCpus] = useState(String(box?.cpus ?? 1));
  const [memory, setMemory] = useState(String(box?.memoryMib ?? 256));
  const currentGiB = box ? box.diskSize / GiB : 1;
  const minGiB = Math.ceil(currentGiB);
  // A size that is not whole GiB (a small image's) starts empty: only a typed number grows it.
  // A grow asked for while the box ran is shown as the size asked for: it is what the disk becomes.
  const askedGiB = box?.pendingDiskSize != null ? box.pendingDiskSize / GiB : currentGiB;
  const [disk, setDisk] = useState(Number.isInteger(askedGiB) ? String(askedGiB) : '');
  const [network, setNetwork] = useState<NetworkMode>(box?.network ?? 'nat');
  const [forwards, setForwards] = useState<string[]>(box ? box.forwards.map(formatForward) : []);
  const [stopTimeout, setStopTimeout] = useState(String(box?.stopTimeoutSec ?? 20));
  const [display, setDisplay] = useState<DisplayMode>(box?.display ?? 'vnc');
  const running = box ? isBusy(box.status) : false;
  const withMemory = useApp(useShallow((s) => (s.trees[boxId]?.snapshots ?? []).filter((x) => x.memory).map((x) => x.name)));

  const changes = box ? changedFields(box, { cpus, memory, disk, network, forwards, stopTimeout, askedGiB, display }) : {};
  const problems = fieldProblems('boxes:update', { box: boxId, ...changes }, LABELS);
  const diskGiB = numberField(disk);
  if (!problems.diskSizeGiB && typeof diskGiB === 'number' && diskGiB < currentGiB) {
    problems.diskSizeGiB = `The disk is ${formatBytes(box!.diskSize)} and only grows: shrinking it would cut off what the guest stored. Use at least ${minGiB} GiB.`;
  }
  const invalid = Object.keys(problems).length > 0;
  const unchanged = Object.keys(changes).length === 0;
  // A snapshot's memory loads only into the machine it was taken on (memory, CPUs, network card).
  const devicesChange = ['cpus', 'memoryMib', 'network'].some((k) => k in changes);
  const { busy, error, onSubmit, blocked } = useFormSubmit(invalid || unchanged, () => actions.updateBox({ box: boxId, ...changes } as ChannelInput<'boxes:update'>), actions.closeDialog);
  if (!box) return null;

  return (
    <Dialog
      title={`Edit ${box.name}`}
      description={
        running ? (
          <p className="applies-later">The box is {box.status}: what you change here applies at the next start.</p>
        ) : (
          <p>The new settings apply when the box next starts.</p>
        )
      }
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={onSubmit}
      footer={<DialogButtons busy={busy} disabled={blocked || unchanged} label="Save" busyLabel="Saving…" tone="primary" onCancel={actions.closeDialog} />}
    >
      <ResourceFields
        cpus={{ value: cpus, onChange: setCpus }}
        memory={{ value: memory, onChange: setMemory }}
        disk={{
          value: disk,
          onChange: setDisk,
          min: minGiB,
          hint: `Now ${formatBytes(box.diskSize)}; at least ${minGiB} GiB: a disk only grows, since shrinking it would cut off data.${running ? ' It grows at the next start.' : ''}`,
        }}
        problems={problems}
        autoFocus
      />
      <NetworkFields network={network} onNetwork={setNetwork} forwards={forwards} onForwards={setForwards} disabled={busy} />
      {problems.forwards && <p className="field-problem">{problems.forwards}</p>}
      <DisplayField value={display} onChange={setDisplay} disabled={busy} hint={running && display !== box.display ? 'The screen changes at the next start.' : undefined} />
      {problems.display && <p className="field-problem">{problems.display}</p>}
      {devicesChange && withMemory.length > 0 && (
        <p className="hint" data-testid="memory-snapshots-note">
          {withMemory.length === 1 ? 'The snapshot ' : 'The snapshots '}
          {joinWords(withMemory.map((n) => `“${n}”`))} kept the running machine’s memory, which resumes only with the memory, CPUs and network card it was taken with.
          After this change, restoring {withMemory.length === 1 ? 'it' : 'them'} brings back the disk only and the box boots instead of resuming (until the settings are changed back).
        </p>
      )}
      <Field
        label={LABELS.stopTimeoutSec}
        type="number"
        value={stopTimeout}
        onChange={setStopTimeout}
        problem={problems.stopTimeoutSec}
        min={1}
        max={3600}
        name="box-stop-timeout"
        hint="How long Stop waits for the guest to shut down before it is cut off."
      />
      <DialogError message={error} />
    </Dialog>
  );
}

interface Form {
  cpus: string;
  memory: string;
  disk: string;
  network: NetworkMode;
  forwards: string[];
  stopTimeout: string;
  askedGiB: number;
  display: DisplayMode;
}

/** Only what differs from the box goes to boxes:update; a field left as shown changes nothing. */
function changedFields(box: Box, f: Form): Record<string, unknown> {
  // An emptied field stays '' so the schema says what it wants ("… must be a number").
  const value = (text: string) => numberField(text) ?? text;
  const out: Record<string, unknown> = {};
  if (value(f.cpus) !== box.cpus) out.cpus = value(f.cpus);
  if (value(f.memory) !== box.memoryMib) out.memoryMib = value(f.memory);
  if (f.disk.trim() !== '' && value(f.disk) !== f.askedGiB) out.diskSizeGiB = value(f.disk);
  if (f.network !== box.network) out.network = f.network;
  if (JSON.stringify(f.forwards) !== JSON.stringify(box.forwards.map(formatForward))) out.forwards = f.forwards;
  if (value(f.stopTimeout) !== box.stopTimeoutSec) out.stopTimeoutSec = value(f.stopTimeout);
  if (f.display !== box.display) out.display = f.display;
  return out;
}
