import { useActions, useSession } from '../context.js';
import { allShortcuts, screenReleaseLabel } from '../keyboard.js';
import { Dialog } from './Dialog.js';

export function ShortcutsDialog() {
  const actions = useActions();
  const { keys } = useSession();
  return (
    <Dialog
      title="Keyboard shortcuts"
      onClose={actions.closeDialog}
      onSubmit={actions.closeDialog}
      footer={
        <button type="submit" className="button primary" autoFocus>
          Close
        </button>
      }
    >
      <table className="shortcuts">
        <tbody>
          {allShortcuts(keys).map((s) => (
            <tr key={s.action}>
              <th scope="row">{s.label}</th>
              <td>
                <kbd>{s.keys}</kbd>
              </td>
            </tr>
          ))}
          <tr>
            {/* The one chord the guest's screen does not pass on: keys typed there go to the guest. */}
            <th scope="row">Give the keyboard back from the guest’s screen</th>
            <td>
              <kbd>{screenReleaseLabel(keys)}</kbd>
            </td>
          </tr>
          <tr>
            <th scope="row">Move in the snapshot tree</th>
            <td>
              <kbd>↑</kbd> <kbd>↓</kbd> <kbd>Home</kbd> <kbd>End</kbd>
            </td>
          </tr>
        </tbody>
      </table>
    </Dialog>
  );
}
