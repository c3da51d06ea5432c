// The tray menu as data: a pure function of the boxes and which of them are busy, so its
// rules are unit-tested and the Electron file only maps items to MenuItems.
import { isActive, type Box, type BoxStatus } from '../../shared/types.js';

/** memory: a running box's quick snapshot keeps its memory too (issue 13: on by default for a running box). */
export type TrayAction = { type: 'quick-snapshot'; boxId: string; boxName: string; memory?: boolean } | { type: 'open' } | { type: 'quit' };

export type TrayItem =
  | { kind: 'action'; label: string; enabled: boolean; action: TrayAction; toolTip?: string }
  | { kind: 'label'; label: string }
  | { kind: 'separator' };

export interface TrayState {
  boxes: readonly Box[];
  /** Boxes with a quick snapshot in flight. */
  busy: ReadonlySet<string>;
  /** Null until the first list arrives; an error message if it failed. */
  loadError?: string | null;
}

/** Beyond this many boxes the menu stops growing; the window lists them all. */
export const MAX_TRAY_BOXES = 12;
const MAX_LABEL = 40;

const STATUS_LABEL: Record<BoxStatus, string> = {
  running: 'running', paused: 'paused', stopping: 'stopping', stopped: 'stopped', configured: 'not started yet', failed: 'failed',
};

export function trayTemplate(state: TrayState): TrayItem[] {
  const items: TrayItem[] = [];
  if (state.loadError) {
    items.push({ kind: 'label', label: clip(`Cannot list boxes: ${state.loadError}`, 60) });
  } else if (state.boxes.length === 0) {
    items.push({ kind: 'label', label: 'No boxes yet' });
  } else {
    items.push({ kind: 'label', label: 'Quick snapshot' });
    const ordered = [...state.boxes].sort(byActivityThenName);
    for (const box of ordered.slice(0, MAX_TRAY_BOXES)) items.push(boxItem(box, state.busy.has(box.id)));
    if (ordered.length > MAX_TRAY_BOXES) {
      items.push({ kind: 'action', label: `${ordered.length - MAX_TRAY_BOXES} more in Boxkeep…`, enabled: true, action: { type: 'open' } });
    }
  }
  items.push({ kind: 'separator' });
  items.push({ kind: 'action', label: 'Open Boxkeep', enabled: true, action: { type: 'open' } });
  items.push({ kind: 'separator' });
  items.push({ kind: 'action', label: 'Quit Boxkeep', enabled: true, action: { type: 'quit' } });
  return items;
}

function boxItem(box: Box, busy: boolean): TrayItem {
  const name = escapeMnemonic(clip(box.name, MAX_LABEL));
  const action: TrayAction = { type: 'quick-snapshot', boxId: box.id, boxName: box.name, ...(box.status === 'running' ? { memory: true } : {}) };
  if (busy) return { kind: 'action', label: `${name} — taking snapshot…`, enabled: false, action };
  // A stopping box has no settled disk state to freeze; the engine would refuse it anyway.
  const enabled = box.status !== 'stopping';
  return { kind: 'action', label: `${name} — ${STATUS_LABEL[box.status]}`, enabled, action, toolTip: `Take a snapshot of ${box.name} now${box.status === 'running' ? ', with its memory' : ''}` };
}

/** Running and paused boxes first: they are the ones a user is working in. */
function byActivityThenName(a: Box, b: Box): number {
  const active = Number(isActive(b.status)) - Number(isActive(a.status));
  return active !== 0 ? active : a.name.localeCompare(b.name, undefined, { sensitivity: 'base', numeric: true });
}

function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? chars.slice(0, max - 1).join('') + '…' : text;
}

/** "&" marks an access key in menu labels on Windows and Linux; a box name shows it literally. */
function escapeMnemonic(text: string): string {
  return text.replace(/&/g, '&&');
}
