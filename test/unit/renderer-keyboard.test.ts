import { describe, expect, it } from 'vitest';
import { allShortcuts, ariaShortcut, consoleClaims, isScreenRelease, screenReleaseLabel, shortcutFor, shortcutLabel, type KeyHost, type KeyPress } from '../../renderer/src/keyboard.js';

const press = (key: string, mods: Partial<KeyPress> = {}): KeyPress => ({
  key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, inTextField: false, ...mods,
});
const LINUX_APP: KeyHost = { mac: false, browser: false };
const MAC_APP: KeyHost = { mac: true, browser: false };
const LINUX_TAB: KeyHost = { mac: false, browser: true };
const MAC_TAB: KeyHost = { mac: true, browser: true };

describe('keyboard shortcuts', () => {
  it('Ctrl+Shift+S takes a snapshot on Linux, Cmd+Shift+S on macOS, in the app and in a browser', () => {
    for (const host of [LINUX_APP, LINUX_TAB]) expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true }), host)).toBe('takeSnapshot');
    for (const host of [MAC_APP, MAC_TAB]) expect(shortcutFor(press('S', { metaKey: true, shiftKey: true }), host)).toBe('takeSnapshot');
    expect(shortcutFor(press('S', { metaKey: true, shiftKey: true }), LINUX_APP)).toBeNull();
    expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true }), MAC_APP)).toBeNull();
  });

  it('restore and delete act on the selection; Delete is left to text fields', () => {
    expect(shortcutFor(press('R', { ctrlKey: true, shiftKey: true }), LINUX_APP)).toBe('restore');
    expect(shortcutFor(press('Delete'), LINUX_APP)).toBe('deleteSnapshot');
    expect(shortcutFor(press('Delete', { inTextField: true }), LINUX_APP)).toBeNull();
    expect(shortcutFor(press('Backspace'), MAC_APP)).toBe('deleteSnapshot');
    expect(shortcutFor(press('Backspace'), LINUX_APP)).toBeNull();
    // Chords with modifiers still work from a text field: they cannot be typed text.
    expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true, inTextField: true }), LINUX_APP)).toBe('takeSnapshot');
  });

  it('in a browser, the chords the browser keeps (Ctrl+Shift+N/R/C) are Alt+Shift, or Ctrl+Shift on macOS', () => {
    expect(shortcutFor(press('N', { altKey: true, shiftKey: true }), LINUX_TAB)).toBe('newBox');
    expect(shortcutFor(press('R', { altKey: true, shiftKey: true }), LINUX_TAB)).toBe('restore');
    expect(shortcutFor(press('C', { altKey: true, shiftKey: true }), LINUX_TAB)).toBe('toggleConsole');
    // The browser's own chords are not claimed there (the page never sees them anyway).
    expect(shortcutFor(press('N', { ctrlKey: true, shiftKey: true }), LINUX_TAB)).toBeNull();
    expect(shortcutFor(press('N', { ctrlKey: true, shiftKey: true }), LINUX_APP)).toBe('newBox');
    // macOS: Ctrl+Shift in a browser; Option changes `key` into a symbol, so the physical key counts.
    expect(shortcutFor(press('N', { ctrlKey: true, shiftKey: true, code: 'KeyN' }), MAC_TAB)).toBe('newBox');
    expect(shortcutFor(press('N', { metaKey: true, shiftKey: true }), MAC_TAB)).toBeNull();
    expect(shortcutFor(press('N', { metaKey: true, shiftKey: true }), MAC_APP)).toBe('newBox');
    expect(shortcutFor(press('˜', { altKey: true, shiftKey: true, code: 'KeyN' }), LINUX_TAB)).toBe('newBox');
  });

  it('leaves every key typed into the terminal to it: Ctrl+Shift+C copies there, it does not switch tabs', () => {
    expect(shortcutFor(press('C', { ctrlKey: true, shiftKey: true }), LINUX_APP)).toBe('toggleConsole');
    for (const [key, mods] of [['C', { ctrlKey: true, shiftKey: true }], ['V', { ctrlKey: true, shiftKey: true }], ['S', { ctrlKey: true, shiftKey: true }], ['Delete', {}], ['F2', {}]] as const) {
      expect(shortcutFor({ ...press(key, mods), inTerminal: true }, LINUX_APP), key).toBeNull();
      expect(shortcutFor({ ...press(key, { ...mods, altKey: 'ctrlKey' in mods }), inTerminal: true }, LINUX_TAB), key).toBeNull();
    }
  });

  it('the serial terminal claims only the take-snapshot chord (the guest would get Ctrl+S, XOFF); the guest\'s screen claims none', () => {
    const inConsole = { inTerminal: true, inConsole: true };
    for (const host of [LINUX_APP, LINUX_TAB]) expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true, code: 'KeyS', ...inConsole }), host)).toBe('takeSnapshot');
    for (const host of [MAC_APP, MAC_TAB]) expect(shortcutFor(press('S', { metaKey: true, shiftKey: true, ...inConsole }), host)).toBe('takeSnapshot');
    expect(consoleClaims(press('S', { ctrlKey: true, shiftKey: true }), LINUX_APP)).toBe(true);
    // Plain Ctrl+S is the guest's (XOFF on purpose), and every other chord stays the terminal's or the guest's.
    expect(consoleClaims(press('s', { ctrlKey: true }), LINUX_APP)).toBe(false);
    for (const key of ['C', 'V', 'R', 'N']) {
      expect(shortcutFor(press(key, { ctrlKey: true, shiftKey: true, ...inConsole }), LINUX_APP), key).toBeNull();
      expect(shortcutFor(press(key, { altKey: true, shiftKey: true, ...inConsole }), LINUX_TAB), key).toBeNull();
    }
    expect(shortcutFor(press('Delete', inConsole), LINUX_APP)).toBeNull();
    expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true, inTerminal: true }), LINUX_APP)).toBeNull();
  });

  it('plain letters and extra modifiers do nothing', () => {
    expect(shortcutFor(press('s'), LINUX_APP)).toBeNull();
    expect(shortcutFor(press('S', { ctrlKey: true }), LINUX_APP)).toBeNull();
    expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true, altKey: true }), LINUX_APP)).toBeNull();
    expect(shortcutFor(press('N', { altKey: true, shiftKey: true, ctrlKey: true }), LINUX_TAB)).toBeNull();
  });

  it('labels print what works on each platform and host', () => {
    expect(shortcutLabel('takeSnapshot', LINUX_APP)).toBe('Ctrl+Shift+S');
    expect(shortcutLabel('takeSnapshot', MAC_APP)).toBe('⇧⌘S');
    expect(shortcutLabel('deleteSnapshot', LINUX_APP)).toBe('Delete');
    expect(shortcutLabel('newBox', LINUX_TAB)).toBe('Alt+Shift+N');
    expect(shortcutLabel('newBox', MAC_TAB)).toBe('⌃⇧N');
    expect(ariaShortcut('restore', LINUX_APP)).toBe('Control+Shift+R');
    expect(ariaShortcut('restore', MAC_APP)).toBe('Shift+Meta+R');
    expect(ariaShortcut('restore', LINUX_TAB)).toBe('Alt+Shift+R');
    // Every advertised shortcut is recognised by the handler (what is shown is what works).
    for (const host of [LINUX_APP, LINUX_TAB]) {
      for (const s of allShortcuts(host)) {
        const parts = s.keys.split('+');
        const key = parts.at(-1)!;
        const p = press(key, { ctrlKey: parts.includes('Ctrl'), shiftKey: parts.includes('Shift'), altKey: parts.includes('Alt') });
        expect(shortcutFor(p, host)).toBe(s.action);
      }
    }
  });
});

describe('the release chord of the guest’s screen', () => {
  it('is Ctrl+Alt+G by the physical key, on any layout, and nothing else', () => {
    expect(isScreenRelease(press('g', { ctrlKey: true, altKey: true, code: 'KeyG' }))).toBe(true);
    // Option+G on macOS types a symbol; the physical key still counts.
    expect(isScreenRelease(press('©', { ctrlKey: true, altKey: true, code: 'KeyG' }))).toBe(true);
    expect(isScreenRelease(press('G', { ctrlKey: true, altKey: true, shiftKey: true, code: 'KeyG' }))).toBe(false);
    expect(isScreenRelease(press('g', { ctrlKey: true, code: 'KeyG' }))).toBe(false);
    expect(isScreenRelease(press('Escape', { ctrlKey: true, altKey: true, code: 'Escape' }))).toBe(false);
    expect(screenReleaseLabel(LINUX_TAB)).toBe('Ctrl+Alt+G');
    expect(screenReleaseLabel(MAC_APP)).toBe('⌃⌥G');
  });
});
