// One box: what it is (status, resources, space), what you can do with it, and below either
// its snapshot tree, its console (kept while hidden, once opened) or its screen.
import { useShallow } from 'zustand/react/shallow';
import type { Box, BoxDetail } from '../../../shared/types.js';
import { isActive } from '../../../shared/types.js';
import { useActions, useApp, useSession } from '../context.js';
import { formatBytes, formatMemory } from '../format.js';
import { NetworkSummary } from './NetworkSummary.js';
import { StopControls } from './StopControls.js';
import { ProtectSection } from './ProtectSection.js';
import { ariaShortcut, shortcutLabel } from '../keyboard.js';
import { lazy, Suspense, useEffect, useState } from 'react';
import { Icon } from './icons.js';
import { SnapshotPane } from './SnapshotPane.js';
import { StatusBadge } from './StatusBadge.js';
import { UnsettledBanner } from './UnsettledBanner.js';
import type { View } from '../store/state.js';

// The terminal (xterm.js) and the screen (noVNC) are most of the bundle: each is loaded when its tab first opens.
const ConsoleView = lazy(() => import('./ConsoleView.js').then((m) => ({ default: m.ConsoleView })));
const DisplayView = lazy(() => import('./DisplayView.js').then((m) => ({ default: m.DisplayView })));

export function BoxView({ box }: { box: Box }) {
  const detail = useApp((s) => s.details[box.id] ?? null);
  const view = useApp((s) => s.view);
  const actions = useActions();
  const { keys } = useSession();
  // The Display tab is there only for a box with a screen; a box without one shows its snapshots.
  const tabs: View[] = box.display === 'vnc' ? ['snapshots', 'console', 'display'] : ['snapshots', 'console'];
  const shown = tabs.includes(view) ? view : 'snapshots';
  // The console, once opened, stays (hidden) while another tab shows: its stream, scrollback,
  // colours and screen (a full-screen program) are there when the tab comes back, rather than
  // the log's last lines read again. (Per box: BoxView is keyed by it.)
  const [consoleKept, setConsoleKept] = useState(false);
  useEffect(() => {
    if (shown === 'console') setConsoleKept(true);
  }, [shown]);
  return (
    <main className="box-view" aria-labelledby="box-title">
      <header className="box-header">
        <div className="box-title-row">
          <h1 id="box-title">{box.name}</h1>
          <StatusBadge status={box.status} />
        </div>
        <Resources box={box} detail={detail} />
        <NetworkSummary box={box} />
        {box.pendingRestart && (
          <p className="pending-restart" role="status">
            Changed settings apply at the next start.
          </p>
        )}
        <BoxActions box={box} />
        <ProtectSection box={box} />
      </header>
      {box.status === 'failed' && (
        <div className="failure" role="alert">
          <Icon name="alert" />
          <div>
            <strong>This box stopped unexpectedly.</strong>
            <p className="failure-reason">{box.failureReason ?? 'QEMU gave no reason.'}</p>
            <p className="hint">Its disk and snapshots are intact. Start it again, or restore a snapshot if the guest is damaged.</p>
          </div>
        </div>
      )}
      {detail?.unsettled && <UnsettledBanner box={box} unsettled={detail.unsettled} />}
      <div className="tabs" role="tablist" aria-label="Box views">
        {tabs.map((tab, i) => (
          <button
            key={tab}
            type="button"
            role="tab"
            id={`tab-${tab}`}
            aria-selected={shown === tab}
            aria-controls={`panel-${tab}`}
            tabIndex={shown === tab ? 0 : -1}
            {...(tab === 'console' ? { title: `Console (${shortcutLabel('toggleConsole', keys)})`, 'aria-keyshortcuts': ariaShortcut('toggleConsole', keys) } : {})}
            onClick={() => actions.setView(tab)}
            onKeyDown={(e) => {
              const next = e.key === 'ArrowRight' ? tabs[i + 1] : e.key === 'ArrowLeft' ? tabs[i - 1] : undefined;
              if (next) (actions.setView(next), focusTab(`tab-${next}`));
            }}
          >
            {tab === 'snapshots' ? `Snapshots${detail ? ` (${detail.snapshotCount.toLocaleString('en-US')})` : ''}` : tab === 'console' ? 'Console' : 'Display'}
          </button>
        ))}
      </div>
      {shown !== 'console' && (
        <section id={`panel-${shown}`} role="tabpanel" aria-labelledby={`tab-${shown}`} className="panel">
          {shown === 'snapshots' ? (
            <SnapshotPane box={box} detail={detail} />
          ) : (
            <Suspense fallback={<p className="console-note">Loading the screen…</p>}>
              <DisplayView box={box} />
            </Suspense>
          )}
        </section>
      )}
      {(shown === 'console' || consoleKept) && (
        <section id="panel-console" role="tabpanel" aria-labelledby="tab-console" className="panel" hidden={shown !== 'console'}>
          <Suspense fallback={<p className="console-note">Loading the terminal…</p>}>
            <ConsoleView box={box} />
          </Suspense>
        </section>
      )}
    </main>
  );
}

function focusTab(id: string) {
  requestAnimationFrame(() => document.getElementById(id)?.focus());
}

function Resources({ box, detail }: { box: Box; detail: BoxDetail | null }) {
  return (
    <dl className="resources">
      <div>
        <dt>CPUs</dt>
        <dd>{box.cpus}</dd>
      </div>
      <div>
        <dt>Memory</dt>
        <dd>{formatMemory(box.memoryMib)}</dd>
      </div>
      <div>
        <dt>Disk size</dt>
        <dd>
          {formatBytes(box.diskSize)}
          {box.pendingDiskSize !== null && <span className="pending-disk"> (grows to {formatBytes(box.pendingDiskSize)} at the next start)</span>}
        </dd>
      </div>
      <div>
        <dt>Space used</dt>
        <dd data-testid="space-used">{detail ? formatBytes(detail.spaceUsed) : '…'}</dd>
      </div>
      <div>
        <dt>{detail && !detail.image ? 'Installed from' : 'Image'}</dt>
        <dd>{detail ? (detail.image ? detail.image.name : `${box.installedFrom ?? 'installer media'}${box.installerImageId ? ' (attached as a CD-ROM)' : ''}`) : '…'}</dd>
      </div>
      <div>
        <dt>Firmware</dt>
        <dd data-testid="firmware">{box.firmware === 'uefi' ? 'UEFI (OVMF)' : 'BIOS'}</dd>
      </div>
      <div>
        <dt>Snapshots</dt>
        <dd>{detail ? (detail.snapshotCount === 0 ? 'None yet' : detail.snapshotCount.toLocaleString('en-US')) : '…'}</dd>
      </div>
    </dl>
  );
}

function BoxActions({ box }: { box: Box }) {
  const actions = useActions();
  const { keys } = useSession();
  const pending = useApp(useShallow((s) => ['start', 'stop', 'pause', 'resume', 'snapshot', 'restore', 'delete', 'ejectInstaller'].filter((k) => s.pending[`${k}:${box.id}`])));
  const busy = pending.length > 0 || box.status === 'stopping';
  const active = isActive(box.status);
  return (
    <div className="toolbar" role="toolbar" aria-label={`Actions for ${box.name}`}>
      {box.status === 'stopping' ? (
        <StopControls box={box} />
      ) : active ? (
        <button type="button" className="button" disabled={busy} onClick={() => void actions.stopBox(box.id)}>
          <Icon name="stop" /> {pending.includes('stop') ? 'Stopping…' : 'Stop'}
        </button>
      ) : (
        <button type="button" className="button" disabled={busy} onClick={() => void actions.startBox(box.id)}>
          <Icon name="play" /> {pending.includes('start') ? 'Starting…' : box.status === 'failed' ? 'Start again' : 'Start'}
        </button>
      )}
      {box.status === 'paused' ? (
        <button type="button" className="button" disabled={busy} onClick={() => void actions.resumeBox(box.id)}>
          <Icon name="play" /> Resume
        </button>
      ) : (
        <button
          type="button"
          className="button"
          disabled={busy || box.status !== 'running'}
          title={box.status === 'running' ? 'Pause the guest; its memory is kept' : 'Only a running box can be paused'}
          onClick={() => void actions.pauseBox(box.id)}
        >
          <Icon name="pause" /> Pause
        </button>
      )}
      <button
        type="button"
        className="button primary"
        disabled={busy}
        title={`Take snapshot (${shortcutLabel('takeSnapshot', keys)})`}
        aria-keyshortcuts={ariaShortcut('takeSnapshot', keys)}
        onClick={() => actions.openDialog({ kind: 'takeSnapshot', boxId: box.id })}
      >
        <Icon name="camera" /> Take snapshot
      </button>
      {box.installerImageId && (
        <button
          type="button"
          className="button"
          disabled={busy}
          title="Take the installer CD out; the box then boots from its disk"
          onClick={() => void actions.ejectInstaller(box.id)}
        >
          {pending.includes('ejectInstaller') ? 'Ejecting…' : 'Eject installer'}
        </button>
      )}
      <span className="toolbar-spacer" />
      <button type="button" className="button" onClick={() => actions.openDialog({ kind: 'editBox', boxId: box.id })}>
        <Icon name="edit" /> Edit
      </button>
      <button type="button" className="button" onClick={() => actions.openDialog({ kind: 'cloneBox', boxId: box.id, snapshotId: null })}>
        Clone…
      </button>
      <button type="button" className="button" onClick={() => actions.openDialog({ kind: 'exportBox', boxId: box.id, snapshotId: null })}>
        Export…
      </button>
      <button type="button" className="button" onClick={() => actions.openDialog({ kind: 'renameBox', boxId: box.id })}>
        <Icon name="edit" /> Rename
      </button>
      <button type="button" className="button danger-outline" onClick={() => actions.openDialog({ kind: 'removeBox', boxId: box.id })}>
        <Icon name="trash" /> Remove box
      </button>
    </div>
  );
}
