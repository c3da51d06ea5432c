// Keyboard shortcuts: one table, used by the global key handler and by every tooltip and menu
// that shows a shortcut, so what is advertised is what works. DOM-free for unit tests.
//
// The same UI runs in Electron and in a browser tab (`boxkeep serve`). A browser keeps some
// chords for itself and never hands them to the page (Ctrl+Shift+N opens a private window,
// Ctrl+Shift+R reloads, Ctrl+Shift+C inspects), so in a browser those actions use Alt+Shift
// (Ctrl+Shift on macOS, where the browser's chords use Cmd). Electron has no such chords.

export type ShortcutAction = 'takeSnapshot' | 'restore' | 'deleteSnapshot' | 'editSnapshot' | 'newBox' | 'toggleConsole';

/** Where the UI runs: the platform's modifier and whether a browser takes some chords. */
export interface KeyHost {
  mac: boolean;
  browser: boolean;
}

export interface KeyPress {
  key: string;
  /** The physical key ("KeyN"): with Alt on macOS, `key` is a symbol ("˜"), not the letter. */
  code?: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  /** Focus is in a text field: plain keys (Delete, F2) belong to the field, not to us. */
  inTextField: boolean;
  /**
   * Focus is in the box's terminal or on its screen: every key belongs to the guest (or the
   * terminal's copy/paste), none to us; but the serial terminal (inConsole) also claims the
   * take-snapshot chord, as a terminal emulator claims its Ctrl+Shift chords: a serial line has
   * no Ctrl+Shift (the guest would get Ctrl+S, XOFF, which stops its output).
   */
  inTerminal?: boolean;
  inConsole?: boolean;
}

interface Chord {
  ctrl: boolean;
  meta: boolean;
  shift: boolean;
  alt: boolean;
  key: string;
}

interface Shortcut {
  action: ShortcutAction;
  /** Ctrl on Linux/Windows, Cmd on macOS, with Shift. false: the key alone. */
  mod: boolean;
  /** A browser keeps mod+Shift+key for itself: use its browser chord there. */
  browserTakes: boolean;
  key: string;
  label: string;
}

const SHORTCUTS: Shortcut[] = [
  { action: 'takeSnapshot', mod: true, browserTakes: false, key: 'S', label: 'Take snapshot' },
  { action: 'restore', mod: true, browserTakes: true, key: 'R', label: 'Restore selected snapshot' },
  { action: 'deleteSnapshot', mod: false, browserTakes: false, key: 'Delete', label: 'Delete selected snapshot' },
  { action: 'editSnapshot', mod: false, browserTakes: false, key: 'F2', label: 'Rename selected snapshot' },
  { action: 'newBox', mod: true, browserTakes: true, key: 'N', label: 'New box' },
  { action: 'toggleConsole', mod: true, browserTakes: true, key: 'C', label: 'Show snapshots / console' },
];

function chordOf(s: Shortcut, host: KeyHost): Chord {
  const none = { ctrl: false, meta: false, shift: false, alt: false, key: s.key };
  if (!s.mod) return none;
  if (s.browserTakes && host.browser) return host.mac ? { ...none, ctrl: true, shift: true } : { ...none, alt: true, shift: true };
  return host.mac ? { ...none, meta: true, shift: true } : { ...none, ctrl: true, shift: true };
}

export function shortcutFor(press: KeyPress, host: KeyHost): ShortcutAction | null {
  if (press.inTerminal) return press.inConsole && consoleClaims(press, host) ? 'takeSnapshot' : null;
  return matching(press, host);
}

/** The serial terminal keeps this key from the guest: the app's take-snapshot chord. */
export function consoleClaims(press: Omit<KeyPress, 'inTextField'>, host: KeyHost): boolean {
  return matching({ ...press, inTextField: false }, host) === 'takeSnapshot';
}

function matching(press: KeyPress, host: KeyHost): ShortcutAction | null {
  // A Mac keyboard's "delete" key reports Backspace.
  const key = host.mac && press.key === 'Backspace' ? 'Delete' : press.key;
  for (const s of SHORTCUTS) {
    const c = chordOf(s, host);
    if (c.ctrl !== press.ctrlKey || c.meta !== press.metaKey || c.shift !== press.shiftKey || c.alt !== press.altKey) continue;
    const letter = c.key.length === 1;
    if (!(letter ? key.toUpperCase() === c.key || press.code === `Key${c.key}` : key === c.key)) continue;
    if (!s.mod && press.inTextField) return null;
    return s.action;
  }
  return null;
}

/** "Ctrl+Shift+S", "Alt+Shift+N" or "⇧⌘S": what tooltips and menus print next to an action. */
export function shortcutLabel(action: ShortcutAction, host: KeyHost): string {
  const c = chordOf(SHORTCUTS.find((x) => x.action === action)!, host);
  if (host.mac) return `${c.ctrl ? '⌃' : ''}${c.alt ? '⌥' : ''}${c.shift ? '⇧' : ''}${c.meta ? '⌘' : ''}${c.key === 'Delete' ? '⌫' : c.key}`;
  return [c.ctrl ? 'Ctrl' : null, c.alt ? 'Alt' : null, c.shift ? 'Shift' : null, c.key].filter(Boolean).join('+');
}

/** For the aria-keyshortcuts attribute, which uses its own spelling ("Control+Shift+S"). */
export function ariaShortcut(action: ShortcutAction, host: KeyHost): string {
  const c = chordOf(SHORTCUTS.find((x) => x.action === action)!, host);
  return [c.ctrl ? 'Control' : null, c.alt ? 'Alt' : null, c.shift ? 'Shift' : null, c.meta ? 'Meta' : null, c.key].filter(Boolean).join('+');
}

export function allShortcuts(host: KeyHost): { action: ShortcutAction; label: string; keys: string }[] {
  return SHORTCUTS.map((s) => ({ action: s.action, label: s.label, keys: shortcutLabel(s.action, host) }));
}

/**
 * The chord that takes the keyboard back from the guest's screen (Display tab): Ctrl+Alt+G, as
 * in QEMU's own window. Escape and the app's chords must reach the guest, and noVNC itself
 * needs no chord, so this is the one combination the guest does not get. By the physical key,
 * so it works on any layout (and with Option on macOS, which turns `key` into a symbol).
 */
export function isScreenRelease(press: Pick<KeyPress, 'key' | 'code' | 'ctrlKey' | 'altKey' | 'shiftKey' | 'metaKey'>): boolean {
  return press.ctrlKey && press.altKey && !press.shiftKey && !press.metaKey && (press.code === 'KeyG' || press.key.toUpperCase() === 'G');
}

export function screenReleaseLabel(host: KeyHost): string {
  return host.mac ? '⌃⌥G' : 'Ctrl+Alt+G';
}
