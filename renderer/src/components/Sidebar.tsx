// The list of boxes: name, status in colour and words, a quick start/stop, and the two ways
// to begin ("New box", "Import image").
import { useShallow } from 'zustand/react/shallow';
import type { Box } from '../../../shared/types.js';
import { useActions, useApp, useSession } from '../context.js';
import { isActive } from '../../../shared/types.js';
import { shortcutLabel } from '../keyboard.js';
import { formatBytes } from '../format.js';
import { Icon } from './icons.js';
import { StatusBadge } from './StatusBadge.js';

export function Sidebar() {
  const { keys } = useSession();
  const actions = useActions();
  const boxes = useApp((s) => s.boxes);
  const hasImages = useApp((s) => s.images.length > 0);
  const info = useApp((s) => s.info);
  return (
    <nav className="sidebar" aria-label="Boxes">
      <div className="sidebar-head">
        <h2 className="sidebar-title">Boxes</h2>
        <div className="sidebar-buttons">
          <button
            type="button"
            className="button primary small"
            onClick={() => actions.openDialog({ kind: 'newBox' })}
            title={`New box (${shortcutLabel('newBox', keys)})`}
            disabled={!hasImages}
            aria-describedby={hasImages ? undefined : 'new-box-needs-image'}
          >
            <Icon name="plus" /> New box
          </button>
          <button type="button" className="button small" onClick={() => actions.openDialog({ kind: 'importImage' })}>
            <Icon name="import" /> Import image
          </button>
          <button type="button" className="button small" onClick={() => actions.openDialog({ kind: 'importBox' })}>
            Import box…
          </button>
          {hasImages && (
            <button type="button" className="button small" onClick={() => actions.openDialog({ kind: 'images' })}>
              Images…
            </button>
          )}
        </div>
        {!hasImages && (
          <p id="new-box-needs-image" className="hint">
            Import a disk image first; boxes are made from images.
          </p>
        )}
      </div>
      {boxes.length > 0 ? (
        <ul className="box-list">
          {boxes.map((box) => (
            <BoxItem key={box.id} box={box} />
          ))}
        </ul>
      ) : (
        <p className="sidebar-empty">No boxes yet.</p>
      )}
      <div className="sidebar-foot">
        <button type="button" className="link-button" onClick={() => actions.openDialog({ kind: 'shortcuts' })}>
          Keyboard shortcuts
        </button>
        {info && (
          <button type="button" className="link-button" data-testid="free-space" onClick={() => actions.openDialog({ kind: 'settings' })} title="Disk reserve…">
            {formatBytes(info.space.free)} free of {formatBytes(info.space.total)}
          </button>
        )}
        {info && (
          <span title={info.home}>
            {info.qemuVersion ? `QEMU ${info.qemuVersion}` : 'QEMU not found'}
            {' · '}
            {info.accelerator === 'kvm' ? 'KVM acceleration' : info.accelerator === 'tcg' ? 'Software emulation (no KVM)' : 'Accelerator: decided when the first box starts'}
          </span>
        )}
      </div>
    </nav>
  );
}

function BoxItem({ box }: { box: Box }) {
  const actions = useActions();
  const selected = useApp((s) => s.selectedBoxId === box.id);
  const [starting, stopping] = useApp(useShallow((s) => [!!s.pending[`start:${box.id}`], !!s.pending[`stop:${box.id}`]]));
  const active = isActive(box.status);
  const busy = starting || stopping || box.status === 'stopping';
  return (
    <li className={`box-item${selected ? ' selected' : ''}`}>
      <button type="button" className="box-select" aria-current={selected ? 'page' : undefined} onClick={() => actions.selectBox(box.id)}>
        <span className="box-name">{box.name}</span>
        <StatusBadge status={box.status} />
      </button>
      <button
        type="button"
        className="icon-button quick"
        aria-label={active ? `Stop ${box.name}` : `Start ${box.name}`}
        title={active ? `Stop ${box.name}` : `Start ${box.name}`}
        disabled={busy}
        aria-busy={busy || undefined}
        onClick={() => void (active ? actions.stopBox(box.id) : actions.startBox(box.id))}
      >
        <Icon name={active ? 'stop' : 'play'} />
      </button>
    </li>
  );
}
