// The window's size and place across runs, including files that are damaged or describe a
// monitor that is no longer there.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_WINDOW, loadWindowState, MIN_SIZE, saveWindowState, trackWindowState, type Rect } from '../../electron/shell/window-state.js';

const screen: Rect[] = [{ x: 0, y: 0, width: 1920, height: 1080 }];
const dirs: string[] = [];
const tmpFile = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bkw-'));
  dirs.push(dir);
  return path.join(dir, 'window-state.json');
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('window state', () => {
  it('comes back where it was saved', () => {
    const file = tmpFile();
    saveWindowState(file, { x: 100, y: 50, width: 1000, height: 700, maximized: true });
    expect(loadWindowState(file, screen)).toEqual({ x: 100, y: 50, width: 1000, height: 700, maximized: true });
  });

  it('uses the defaults when there is no file or it is not JSON', () => {
    const file = tmpFile();
    expect(loadWindowState(file, screen)).toEqual(DEFAULT_WINDOW);
    fs.writeFileSync(file, '{"width": 10');
    expect(loadWindowState(file, screen)).toEqual(DEFAULT_WINDOW);
  });

  it('recentres a window saved on a monitor that is gone, and clamps absurd sizes', () => {
    const file = tmpFile();
    fs.writeFileSync(file, JSON.stringify({ x: 3000, y: 200, width: 99999, height: 10, maximized: 'yes' }));
    expect(loadWindowState(file, screen)).toEqual({ width: 1920, height: MIN_SIZE.height, maximized: false });
    fs.writeFileSync(file, JSON.stringify({ x: 'a', y: null, width: -5, height: 1e400 }));
    expect(loadWindowState(file, screen)).toEqual({ width: MIN_SIZE.width, height: DEFAULT_WINDOW.height, maximized: false });
  });

  it('keeps a place on a second monitor left of the first', () => {
    const file = tmpFile();
    saveWindowState(file, { x: -1500, y: 100, width: 1200, height: 800, maximized: false });
    const two = [...screen, { x: -1600, y: 0, width: 1600, height: 900 }];
    expect(loadWindowState(file, two)).toMatchObject({ x: -1500, y: 100 });
    expect(loadWindowState(file, screen)).not.toHaveProperty('x');
  });

  it('saves after the window moves and when it closes, with its normal bounds', async () => {
    const file = tmpFile();
    const win = Object.assign(new EventEmitter(), { bounds: { x: 10, y: 20, width: 900, height: 600 }, max: false, getNormalBounds() { return this.bounds; }, isMaximized() { return this.max; } });
    trackWindowState(win, file, 10);
    win.bounds = { x: 40, y: 60, width: 950, height: 640 };
    win.emit('move');
    win.emit('resize');
    expect(fs.existsSync(file)).toBe(false);
    await new Promise((r) => setTimeout(r, 40));
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ x: 40, y: 60, width: 950, height: 640, maximized: false });
    win.max = true;
    win.emit('close');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ maximized: true, width: 950 });
    expect(fs.readdirSync(path.dirname(file))).toEqual(['window-state.json']);
  });
});
