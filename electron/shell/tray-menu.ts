// The tray menu as data: a pure function of the boxes and which of them are busy, so its
// rules are unit-tested and the Electron file only maps items to MenuItems.
import { isActive, type Box, type BoxStatus, type ProtectStatus } from '../../shared/types.js';
import { untilText } from '../../shared/protect.js';

/** memory: a running box's quick snapshot keeps its memory too (issue 13: on by default for a running box). */
export type TrayAction = { type: 'quick-snapshot'; boxId: string; boxName: string; memory?: boolean } | { type: 'open' } | { type: 'quit' } | { type: 'toggle-autostart' };

export type TrayItem =
  | { kind: 'action'; label: string; enabled: boolean; action: TrayAction; toolTip?: string; checked?: boolean }
  | { kind: 'label'; label: string }
  | { kind: 'separator' };

export interface TrayState {
  boxes: readonly Box[];
  /** Boxes with a quick snapshot in flight. */
  busy: ReadonlySet<string>;
  /** Null until the first list arrives; an error message if it failed. */
  loadError?: string | null;
  /** AutoProtect per box, for "next automatic snapshot in 12 min"; boxes left out show nothing of it. */
  protect?: ReadonlyMap<string, ProtectStatus>;
  now?: number;
  /** Whether the app starts at login (shell/autostart.ts); undefined: the item is not offered. */
  autostart?: boolean;
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
    for (const box of ordered.slice(0, MAX_TRAY_BOXES)) items.push(boxItem(box, state.busy.has(box.id), protectNote(state.protect?.get(box.id), state.now ?? Date.now())));
    if (ordered.length > MAX_TRAY_BOXES) {
      items.push({ kind: 'action', label: `${ordered.length - MAX_TRAY_BOXES} more in Boxkeep…`, enabled: true, action: { type: 'open' } });
    }
  }
  items.push({ kind: 'separator' });
  items.push({ kind: 'action', label: 'Open Boxkeep', enabled: true, action: { type: 'open' } });
  if (state.autostart !== undefined) {
    items.push({ kind: 'action', label: 'Start Boxkeep at Login', enabled: true, checked: state.autostart, action: { type: 'toggle-autostart' }, toolTip: 'Start in the tray when you log in, so automatic snapshots keep their schedule' });
  }
  items.push({ kind: 'separator' });
  items.push({ kind: 'action', label: 'Quit Boxkeep', enabled: true, action: { type: 'quit' } });
  return items;
}

/** What the tray says of a box's schedule: only while it means something (on, and the box runs or it is paused for space). */
export function protectNote(status: ProtectStatus | undefined, now: number): string {
  if (!status?.policy.enabled) return '';
  if (status.pausedReason) return ', AutoProtect paused (low disk space)';
  return status.nextRunAt !== null ? `, next automatic snapshot ${untilText(status.nextRunAt, now)}` : '';
}

function boxItem(box: Box, busy: boolean, note = ''): TrayItem {
  const name = escapeMnemonic(clip(box.name, MAX_LABEL));
  const action: TrayAction = { type: 'quick-snapshot', boxId: box.id, boxName: box.name, ...(box.status === 'running' ? { memory: true } : {}) };
  if (busy) return { kind: 'action', label: `${name} — taking snapshot…`, enabled: false, action };
  // A stopping box has no settled disk state to freeze; the engine would refuse it anyway.
  const enabled = box.status !== 'stopping';
  return { kind: 'action', label: `${name} — ${STATUS_LABEL[box.status]}${note}`, enabled, action, toolTip: `Take a snapshot of ${box.name} now${box.status === 'running' ? ', with its memory' : ''}` };
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
