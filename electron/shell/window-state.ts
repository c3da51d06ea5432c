// The main window's size and place, remembered between runs. The file is untrusted (edited by
// hand, written by an older version, or describing a monitor that is gone): it is parsed
// defensively and a window that would open off every screen is recentred.
import fs from 'node:fs';
import path from 'node:path';

export interface Rect { x: number; y: number; width: number; height: number }

export interface WindowState {
  /** Absent: let the system centre the window. */
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized: boolean;
}

export const DEFAULT_WINDOW: WindowState = { width: 1200, height: 800, maximized: false };
export const MIN_SIZE = { width: 720, height: 480 };
/** How much of the window must be on some screen for the saved place to be kept. */
const MIN_VISIBLE = { width: 160, height: 80 };

export function loadWindowState(file: string, workAreas: readonly Rect[]): WindowState {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return { ...DEFAULT_WINDOW };
  }
  return sanitize(raw, workAreas);
}

export function sanitize(raw: unknown, workAreas: readonly Rect[]): WindowState {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : undefined);
  // No screens known (headless, or asked too early): do not clamp to anything.
  const largest = workAreas.length
    ? workAreas.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a))
    : { x: 0, y: 0, width: 1 << 14, height: 1 << 14 };
  const width = clamp(num(r.width) ?? DEFAULT_WINDOW.width, MIN_SIZE.width, Math.max(MIN_SIZE.width, largest.width));
  const height = clamp(num(r.height) ?? DEFAULT_WINDOW.height, MIN_SIZE.height, Math.max(MIN_SIZE.height, largest.height));
  const state: WindowState = { width, height, maximized: r.maximized === true };
  const x = num(r.x);
  const y = num(r.y);
  if (x !== undefined && y !== undefined && workAreas.some((area) => visibleEnough({ x, y, width, height }, area))) {
    state.x = x;
    state.y = y;
  }
  return state;
}

function visibleEnough(win: Rect, area: Rect): boolean {
  const w = Math.min(win.x + win.width, area.x + area.width) - Math.max(win.x, area.x);
  const h = Math.min(win.y + win.height, area.y + area.height) - Math.max(win.y, area.y);
  return w >= MIN_VISIBLE.width && h >= MIN_VISIBLE.height;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Written beside and renamed over, so a crash mid-write leaves the previous state. */
export function saveWindowState(file: string, state: WindowState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, file);
}

/** What tracking needs from a BrowserWindow. */
export interface TrackedWindow {
  getNormalBounds(): Rect;
  isMaximized(): boolean;
  on(event: 'resize' | 'move' | 'maximize' | 'unmaximize' | 'close', listener: () => void): unknown;
}

/**
 * Saves the window's normal (unmaximized) bounds shortly after it moves or resizes, and once
 * more when it closes, so a maximized window comes back maximized over its old place.
 */
export function trackWindowState(win: TrackedWindow, file: string, debounceMs = 400): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const save = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    try {
      saveWindowState(file, { ...win.getNormalBounds(), maximized: win.isMaximized() });
    } catch {
      // Losing the window's place is not worth an error dialog.
    }
  };
  const later = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, debounceMs);
  };
  for (const event of ['resize', 'move', 'maximize', 'unmaximize'] as const) win.on(event, later);
  win.on('close', save);
  return () => {
    if (timer) clearTimeout(timer);
  };
}
