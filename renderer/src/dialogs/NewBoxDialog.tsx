// New box: which image, a name, and its resources, each checked as typed by the contract's
// own schema. The image is never changed: the box gets its own disk on top of it.
import { useId, useState } from 'react';
import { useActions, useApp } from '../context.js';
import { formatBytes } from '../format.js';
import { fieldProblems, numberField } from '../validation.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import type { DisplayMode, Firmware, NetworkMode } from '../../../shared/types.js';
import { Field } from './Field.js';
import { DisplayField } from './DisplayField.js';
import { NetworkFields } from './NetworkFields.js';
import { CLOUD_INIT_LABELS, CloudInitFields, cloudInitInput, EMPTY_CLOUD_INIT, type CloudInitDraft } from './CloudInitFields.js';
import { RESOURCE_LABELS, ResourceFields } from './ResourceFields.js';
import { useFormSubmit } from './useSubmit.js';

const GiB = 1024 ** 3;

export function NewBoxDialog() {
  const actions = useActions();
  const images = useApp((s) => s.images);
  const boxes = useApp((s) => s.boxes);
  const selectId = useId();
  const [imageId, setImageId] = useState(images.at(-1)?.id ?? '');
  const [name, setName] = useState('');
  const [cpus, setCpus] = useState('1');
  const [memory, setMemory] = useState('512');
  const [disk, setDisk] = useState('');
  const [network, setNetwork] = useState<NetworkMode>('nat');
  const [forwards, setForwards] = useState<string[]>([]);
  const [cloudInit, setCloudInit] = useState<CloudInitDraft>(EMPTY_CLOUD_INIT);
  const [firmware, setFirmware] = useState<Firmware>('bios');
  // Null until chosen: the image's own default (no screen for a kernel booted directly), as the engine picks it.
  const [chosenDisplay, setDisplay] = useState<DisplayMode | null>(null);
  const firmwareId = useId();
  const image = images.find((i) => i.id === imageId);
  const installer = image?.kind === 'installer';
  const display: DisplayMode = chosenDisplay ?? (image?.kernelPath ? 'none' : 'vnc');
  // An installer's size is the ISO's, not a disk's: its box gets a blank disk of any size.
  const minGiB = image && !installer ? Math.ceil(image.virtualSize / GiB) : 1;

  const input = { name, image: imageId, cpus: numberField(cpus), memoryMib: numberField(memory), diskSizeGiB: numberField(disk), ...(chosenDisplay ? { display: chosenDisplay } : {}) };
  const cloudInitFields = cloudInitInput(cloudInit);
  const problems = fieldProblems('boxes:create', { ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)), ...cloudInitFields }, { ...RESOURCE_LABELS, ...CLOUD_INIT_LABELS });
  if (!problems.name && boxes.some((b) => b.name === name)) problems.name = `There is already a box named ${JSON.stringify(name)}; pick another name.`;
  if (!problems.diskSizeGiB && installer && input.diskSizeGiB === undefined) problems.diskSizeGiB = 'An installer needs a blank disk to install onto: give its size.';
  if (!problems.diskSizeGiB && typeof input.diskSizeGiB === 'number' && image && !installer && input.diskSizeGiB * GiB < image.virtualSize) {
    problems.diskSizeGiB = `The disk cannot be smaller than the image (${formatBytes(image.virtualSize)}); use at least ${minGiB} GiB.`;
  }
  if (!image) problems.image = 'Choose the image to build the box on.';
  const invalid = Object.keys(problems).length > 0;

  const { busy, error, touched, touch, onSubmit, blocked } = useFormSubmit(
    invalid,
    () =>
      actions.createBox({
        name,
        image: imageId,
        cpus: input.cpus as number,
        memoryMib: input.memoryMib as number,
        ...(typeof input.diskSizeGiB === 'number' ? { diskSizeGiB: input.diskSizeGiB } : {}),
        network,
        ...(forwards.length > 0 ? { forwards } : {}),
        ...cloudInitFields,
        ...(firmware === 'uefi' ? { firmware } : {}),
        ...(chosenDisplay ? { display: chosenDisplay } : {}),
      }),
    actions.closeDialog,
  );

  if (images.length === 0) {
    return (
      <Dialog
        title="New box"
        description={<p>A box is made from a disk image, and there is none yet. Import one first.</p>}
        onClose={actions.closeDialog}
        onSubmit={() => actions.openDialog({ kind: 'importImage' })}
        footer={<DialogButtons label="Import image…" tone="primary" onCancel={actions.closeDialog} />}
      />
    );
  }

  return (
    <Dialog
      title="New box"
      description={
        installer ? (
          <p>The box gets a blank disk of the size you give and boots from the installer first, as a CD-ROM. Eject it from the box once the system is installed.</p>
        ) : (
          <p>The box gets its own disk on top of the image; the image itself is never changed and can be shared by many boxes.</p>
        )
      }
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={onSubmit}
      footer={
        <DialogButtons busy={busy} disabled={blocked} label="Create box" busyLabel="Creating…" tone="primary" onCancel={actions.closeDialog} />
      }
    >
      <div className="field">
        <label htmlFor={selectId}>Image</label>
        <select id={selectId} value={imageId} onChange={(e) => setImageId(e.target.value)} disabled={busy}>
          {images.map((i) => (
            <option key={i.id} value={i.id}>
              {i.kind === 'installer' ? `${i.name} (installer, ${formatBytes(i.virtualSize)} ISO)` : `${i.name} (${formatBytes(i.virtualSize)} disk)`}
            </option>
          ))}
        </select>
      </div>
      <Field
        label="Name"
        value={name}
        onChange={(v) => {
          setName(v);
          touch();
        }}
        problem={touched ? problems.name : null}
        autoFocus
        name="box-name"
        placeholder="e.g. scratch"
      />
      <ResourceFields
        cpus={{ value: cpus, onChange: setCpus }}
        memory={{ value: memory, onChange: setMemory }}
        disk={{ value: disk, onChange: setDisk, min: minGiB, hint: installer ? 'The blank disk the installer installs onto.' : image ? `Empty: the image’s size (${formatBytes(image.virtualSize)}).` : undefined }}
        problems={problems}
      />
      <NetworkFields network={network} onNetwork={setNetwork} forwards={forwards} onForwards={setForwards} disabled={busy} />
      <DisplayField value={display} onChange={setDisplay} disabled={busy} />
      {problems.display && <p className="field-problem">{problems.display}</p>}
      <div className="field">
        <label htmlFor={firmwareId}>Firmware</label>
        <select id={firmwareId} value={firmware} onChange={(e) => setFirmware(e.target.value as Firmware)} disabled={busy}>
          <option value="bios">BIOS</option>
          <option value="uefi">UEFI (OVMF; its variables are kept by each snapshot)</option>
        </select>
      </div>
      <CloudInitFields
        draft={cloudInit}
        onChange={(d) => {
          setCloudInit(d);
          touch();
        }}
        problems={problems}
        touched={touched}
        disabled={busy}
      />
      <DialogError message={error} />
    </Dialog>
  );
}
