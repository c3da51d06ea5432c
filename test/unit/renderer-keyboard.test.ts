import { describe, expect, it } from 'vitest';
import { allShortcuts, ariaShortcut, shortcutFor, shortcutLabel, type KeyPress } from '../../renderer/src/keyboard.js';

const press = (key: string, mods: Partial<KeyPress> = {}): KeyPress => ({
  key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, inTextField: false, ...mods,
});

describe('keyboard shortcuts', () => {
  it('Ctrl+Shift+S takes a snapshot on Linux, Cmd+Shift+S on macOS', () => {
    expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true }), false)).toBe('takeSnapshot');
    expect(shortcutFor(press('S', { metaKey: true, shiftKey: true }), true)).toBe('takeSnapshot');
    expect(shortcutFor(press('S', { metaKey: true, shiftKey: true }), false)).toBeNull();
    expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true }), true)).toBeNull();
  });

  it('restore and delete act on the selection; Delete is left to text fields', () => {
    expect(shortcutFor(press('R', { ctrlKey: true, shiftKey: true }), false)).toBe('restore');
    expect(shortcutFor(press('Delete'), false)).toBe('deleteSnapshot');
    expect(shortcutFor(press('Delete', { inTextField: true }), false)).toBeNull();
    expect(shortcutFor(press('Backspace'), true)).toBe('deleteSnapshot');
    expect(shortcutFor(press('Backspace'), false)).toBeNull();
    // Chords with modifiers still work from a text field: they cannot be typed text.
    expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true, inTextField: true }), false)).toBe('takeSnapshot');
  });

  it('plain letters and extra modifiers do nothing', () => {
    expect(shortcutFor(press('s'), false)).toBeNull();
    expect(shortcutFor(press('S', { ctrlKey: true }), false)).toBeNull();
    expect(shortcutFor(press('S', { ctrlKey: true, shiftKey: true, altKey: true }), false)).toBeNull();
  });

  it('labels print what works on each platform', () => {
    expect(shortcutLabel('takeSnapshot', false)).toBe('Ctrl+Shift+S');
    expect(shortcutLabel('takeSnapshot', true)).toBe('⇧⌘S');
    expect(shortcutLabel('deleteSnapshot', false)).toBe('Delete');
    expect(ariaShortcut('restore', false)).toBe('Control+Shift+R');
    expect(ariaShortcut('restore', true)).toBe('Meta+Shift+R');
    // Every advertised shortcut is recognised by the handler (what is shown is what works).
    for (const s of allShortcuts(false)) {
      const parts = s.keys.split('+');
      const key = parts.at(-1)!;
      const p = press(key, { ctrlKey: parts.includes('Ctrl'), shiftKey: parts.includes('Shift') });
      expect(shortcutFor(p, false)).toBe(s.action);
    }
  });
});
