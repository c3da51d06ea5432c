// Keyboard shortcuts: one table, used by the global key handler and by every tooltip and menu
// that shows a shortcut, so what is advertised is what works. DOM-free for unit tests.

export type ShortcutAction = 'takeSnapshot' | 'restore' | 'deleteSnapshot' | 'editSnapshot' | 'newBox' | 'toggleConsole';

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  /** Focus is in a text field: plain keys (Delete, F2) belong to the field, not to us. */
  inTextField: boolean;
}

interface Shortcut {
  action: ShortcutAction;
  /** Ctrl on Linux/Windows, Cmd on macOS. */
  mod: boolean;
  shift: boolean;
  keys: string[];
  label: string;
}

const SHORTCUTS: Shortcut[] = [
  { action: 'takeSnapshot', mod: true, shift: true, keys: ['s', 'S'], label: 'Take snapshot' },
  { action: 'restore', mod: true, shift: true, keys: ['r', 'R'], label: 'Restore selected snapshot' },
  { action: 'deleteSnapshot', mod: false, shift: false, keys: ['Delete'], label: 'Delete selected snapshot' },
  { action: 'editSnapshot', mod: false, shift: false, keys: ['F2'], label: 'Rename selected snapshot' },
  { action: 'newBox', mod: true, shift: true, keys: ['n', 'N'], label: 'New box' },
  { action: 'toggleConsole', mod: true, shift: true, keys: ['c', 'C'], label: 'Show snapshots / console' },
];

export function shortcutFor(press: KeyPress, isMac: boolean): ShortcutAction | null {
  const mod = isMac ? press.metaKey : press.ctrlKey;
  // The other platform's modifier held too means a different, unrelated chord.
  const otherMod = isMac ? press.ctrlKey : press.metaKey;
  if (press.altKey || otherMod) return null;
  // A Mac keyboard's "delete" key reports Backspace.
  const key = isMac && press.key === 'Backspace' ? 'Delete' : press.key;
  for (const s of SHORTCUTS) {
    if (s.mod !== mod || s.shift !== press.shiftKey || !s.keys.includes(key)) continue;
    if (!s.mod && press.inTextField) return null;
    return s.action;
  }
  return null;
}

/** "Ctrl+Shift+S" or "⇧⌘S": what tooltips and menus print next to an action. */
export function shortcutLabel(action: ShortcutAction, isMac: boolean): string {
  const s = SHORTCUTS.find((x) => x.action === action)!;
  const key = s.keys[s.keys.length - 1]!;
  if (isMac) return `${s.shift ? '⇧' : ''}${s.mod ? '⌘' : ''}${key === 'Delete' ? '⌫' : key}`;
  return [s.mod ? 'Ctrl' : null, s.shift ? 'Shift' : null, key].filter(Boolean).join('+');
}

/** For the aria-keyshortcuts attribute, which uses its own spelling ("Control+Shift+S"). */
export function ariaShortcut(action: ShortcutAction, isMac: boolean): string {
  const s = SHORTCUTS.find((x) => x.action === action)!;
  const key = s.keys[s.keys.length - 1]!;
  return [s.mod ? (isMac ? 'Meta' : 'Control') : null, s.shift ? 'Shift' : null, key].filter(Boolean).join('+');
}

export function allShortcuts(isMac: boolean): { action: ShortcutAction; label: string; keys: string }[] {
  return SHORTCUTS.map((s) => ({ action: s.action, label: s.label, keys: shortcutLabel(s.action, isMac) }));
}
