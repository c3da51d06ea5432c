// The window: recovery banner on top, boxes on the left, the selected box on the right,
// progress and toasts at the bottom, and the keyboard shortcuts that work everywhere.
import { useEffect } from 'react';
import { BoxView } from './components/BoxView.js';
import { EmptyState } from './components/EmptyState.js';
import { RecoveryBanner } from './components/RecoveryBanner.js';
import { Sidebar } from './components/Sidebar.js';
import { SpaceBanner } from './components/SpaceBanner.js';
import { TaskBar } from './components/TaskBar.js';
import { Toasts } from './components/Toasts.js';
import { useApp, useSession } from './context.js';
import { DialogHost } from './dialogs/DialogHost.js';
import { shortcutFor, type ShortcutAction } from './keyboard.js';
import type { RendererSession } from './context.js';
import { NOW_ROW } from './store/sync.js';

export function App() {
  const session = useSession();
  const connection = useApp((s) => s.connection);
  const connectionError = useApp((s) => s.connectionError);
  const boxesLoaded = useApp((s) => s.boxesLoaded);
  const box = useApp((s) => s.boxes.find((b) => b.id === s.selectedBoxId) ?? null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      const inTextField = !!t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
      // The terminal and the guest's screen take every key (noVNC also stops them at its canvas).
      // (The serial terminal claims the take-snapshot chord: keyboard.ts.)
      const inTerminal = !!t?.closest?.('.xterm, .guest-screen');
      const inConsole = !!t?.closest?.('.xterm');
      const action = shortcutFor({ key: e.key, code: e.code, ctrlKey: e.ctrlKey, metaKey: e.metaKey, shiftKey: e.shiftKey, altKey: e.altKey, inTextField, inTerminal, inConsole }, session.keys);
      if (action && runShortcut(session, action)) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [session]);

  if (connection === 'failed') {
    return (
      <main className="fatal" aria-labelledby="fatal-title">
        <h1 id="fatal-title">Boxkeep cannot reach its engine</h1>
        <p role="alert">{connectionError}</p>
        <button type="button" className="button primary" onClick={() => location.reload()}>
          Try again
        </button>
      </main>
    );
  }

  return (
    <div className="app">
      {connection === 'reconnecting' && (
        <div className="banner reconnecting" role="status">
          Lost the connection to Boxkeep; reconnecting… Actions wait until it is back.
        </div>
      )}
      {connection === 'lost' && (
        <div className="banner reconnecting" role="alert" data-testid="connection-lost">
          {connectionError}
        </div>
      )}
      <div className="banners">
        <RecoveryBanner />
        <SpaceBanner />
      </div>
      <div className="layout">
        <Sidebar />
        {!boxesLoaded ? (
          <main className="loading" aria-busy="true">
            <p role="status">Loading…</p>
          </main>
        ) : box ? (
          <BoxView key={box.id} box={box} />
        ) : (
          <EmptyState />
        )}
      </div>
      <TaskBar />
      <Toasts />
      <DialogHost />
    </div>
  );
}

/** Returns whether the shortcut did something (and so its key press is consumed). */
function runShortcut({ store, actions }: RendererSession, action: ShortcutAction): boolean {
  const s = store.getState();
  if (s.dialog) return false;
  const boxId = s.selectedBoxId;
  const rowKey = boxId ? s.selectedRow[boxId] ?? NOW_ROW : NOW_ROW;
  const snapshotId = boxId && s.trees[boxId]?.snapshots.some((x) => x.id === rowKey) ? rowKey : null;
  switch (action) {
    case 'newBox':
      actions.openDialog(s.images.length ? { kind: 'newBox' } : { kind: 'importImage' });
      return true;
    case 'takeSnapshot':
      if (!boxId) return false;
      actions.openDialog({ kind: 'takeSnapshot', boxId });
      return true;
    case 'toggleConsole':
      if (!boxId) return false;
      actions.setView(s.view === 'console' ? 'snapshots' : 'console');
      return true;
    case 'restore':
    case 'deleteSnapshot':
    case 'editSnapshot': {
      if (!boxId || !snapshotId || s.view !== 'snapshots') return false;
      const kind = action === 'restore' ? 'restore' : action === 'deleteSnapshot' ? 'deleteSnapshot' : 'editSnapshot';
      actions.openDialog({ kind, boxId, snapshotId });
      return true;
    }
  }
}
