// Import image: the system file picker in the app, a path field in the browser (a web page
// cannot learn a file's path). The file is copied into Boxkeep's home and never changed.
import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useActions, useApp } from '../context.js';
import { Progress } from '../components/Progress.js';
import { fieldProblems } from '../validation.js';
import { Dialog, DialogButtons, DialogError } from './Dialog.js';
import { Field } from './Field.js';
import { useFormSubmit } from './useSubmit.js';

export function ImportImageDialog() {
  const actions = useActions();
  const task = useApp(useShallow((s) => Object.values(s.tasks).find((t) => t.kind === 'image-import') ?? null));
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [kernelPath, setKernelPath] = useState('');
  const [initrdPath, setInitrdPath] = useState('');
  const [append, setAppend] = useState('');
  const pick = actions.pickImageFile;

  const input = Object.fromEntries(
    Object.entries({ path: path.trim(), name, kernelPath: kernelPath.trim(), initrdPath: initrdPath.trim(), append }).filter(([k, v]) => k === 'path' || v !== ''),
  ) as { path: string; name?: string; kernelPath?: string; initrdPath?: string; append?: string };
  const problems = fieldProblems('images:import', input);
  const invalid = Object.keys(problems).length > 0;
  const { busy, error, touched, touch, onSubmit, blocked } = useFormSubmit(invalid, () => actions.importImage(input), actions.closeDialog);

  return (
    <Dialog
      title="Import a disk image"
      description={
        <p>
          Boxkeep copies a disk image (qcow2 or raw) or an installer (an ISO 9660 image) into its own folder, checks it, and keeps it read-only; the file
          you pick is left as it is. Images that point to other files (a backing file or an external data file) are refused.
        </p>
      }
      busy={busy}
      onClose={actions.closeDialog}
      onSubmit={onSubmit}
      footer={
        <DialogButtons busy={busy} disabled={blocked} label="Import" busyLabel="Importing…" tone="primary" onCancel={actions.closeDialog} />
      }
    >
      <div className="field-with-button">
        <Field
          label="Image file (absolute path)"
          value={path}
          onChange={(v) => {
            setPath(v);
            touch();
          }}
          problem={touched ? problems.path : null}
          autoFocus
          name="image-path"
          placeholder="/home/me/images/debian.qcow2"
        />
        {pick && (
          <button
            type="button"
            className="button"
            disabled={busy}
            onClick={async () => {
              const chosen = await pick();
              if (chosen) {
                setPath(chosen);
                touch();
              }
            }}
          >
            Choose file…
          </button>
        )}
      </div>
      <Field label="Name (optional)" value={name} onChange={setName} problem={problems.name} name="image-name" hint="Empty: the file’s name." />
      <details className="advanced">
        <summary>Direct kernel boot (optional)</summary>
        <Field label="Kernel (absolute path)" value={kernelPath} onChange={setKernelPath} problem={problems.kernelPath} name="image-kernel" />
        <Field label="Initrd (absolute path)" value={initrdPath} onChange={setInitrdPath} problem={problems.initrdPath} name="image-initrd" />
        <Field label="Kernel command line" value={append} onChange={setAppend} problem={problems.append} name="image-append" placeholder="console=ttyS0" />
      </details>
      {busy && <Progress task={task} label="Importing the image" />}
      <DialogError message={error} />
    </Dialog>
  );
}
