// Shows the one open dialog from the store (dialogs live in the store so that shortcuts,
// buttons and menus all open the same ones).
import { useApp } from '../context.js';
import { CloneBoxDialog, ExportBoxDialog, ImportBoxDialog } from './BoxCopyDialogs.js';
import { DeleteSnapshotDialog } from './DeleteSnapshotDialog.js';
import { EditBoxDialog } from './EditBoxDialog.js';
import { EditSnapshotDialog } from './EditSnapshotDialog.js';
import { ImagesDialog } from './ImagesDialog.js';
import { ImportImageDialog } from './ImportImageDialog.js';
import { NewBoxDialog } from './NewBoxDialog.js';
import { RemoveBoxDialog } from './RemoveBoxDialog.js';
import { RenameBoxDialog } from './RenameBoxDialog.js';
import { RestoreDialog } from './RestoreDialog.js';
import { SettingsDialog } from './SettingsDialog.js';
import { ShortcutsDialog } from './ShortcutsDialog.js';
import { TakeSnapshotDialog } from './TakeSnapshotDialog.js';

export function DialogHost() {
  const d = useApp((s) => s.dialog);
  if (!d) return null;
  // The key remounts the dialog when another one replaces it, so no state leaks between them.
  const key = JSON.stringify(d);
  switch (d.kind) {
    case 'takeSnapshot':
      return <TakeSnapshotDialog key={key} boxId={d.boxId} />;
    case 'restore':
      return <RestoreDialog key={key} boxId={d.boxId} snapshotId={d.snapshotId} />;
    case 'deleteSnapshot':
      return <DeleteSnapshotDialog key={key} boxId={d.boxId} snapshotId={d.snapshotId} />;
    case 'editSnapshot':
      return <EditSnapshotDialog key={key} boxId={d.boxId} snapshotId={d.snapshotId} />;
    case 'renameBox':
      return <RenameBoxDialog key={key} boxId={d.boxId} />;
    case 'editBox':
      return <EditBoxDialog key={key} boxId={d.boxId} />;
    case 'removeBox':
      return <RemoveBoxDialog key={key} boxId={d.boxId} />;
    case 'newBox':
      return <NewBoxDialog key={key} />;
    case 'importImage':
      return <ImportImageDialog key={key} />;
    case 'images':
      return <ImagesDialog key={key} />;
    case 'shortcuts':
      return <ShortcutsDialog key={key} />;
    case 'settings':
      return <SettingsDialog key={key} />;
    case 'cloneBox':
      return <CloneBoxDialog key={key} boxId={d.boxId} snapshotId={d.snapshotId} />;
    case 'exportBox':
      return <ExportBoxDialog key={key} boxId={d.boxId} snapshotId={d.snapshotId} />;
    case 'importBox':
      return <ImportBoxDialog key={key} />;
  }
}
