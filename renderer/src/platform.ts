// What the Electron shell may add beyond the typed client. Optional: in a browser (the web
// host) none of it exists and the UI falls back (a path field instead of a file picker).
import type { KeyHost } from './keyboard.js';

export interface ShellBridge {
  /** Opens the system file picker for a disk image; resolves to its absolute path or null. */
  pickImageFile?(): Promise<string | null>;
}

export function shellBridge(): ShellBridge {
  return ((globalThis as { boxkeepShell?: ShellBridge }).boxkeepShell ?? {}) as ShellBridge;
}

/** In Electron the preload defines `window.boxkeep`; in a browser tab (`boxkeep serve`) it is absent. */
export function keyHost(): KeyHost {
  return { mac: isMacPlatform(), browser: !(globalThis as { boxkeep?: unknown }).boxkeep };
}

export function isMacPlatform(): boolean {
  const nav = (globalThis as { navigator?: { platform?: string; userAgent?: string } }).navigator;
  return /Mac|iPhone|iPad/.test(nav?.platform ?? nav?.userAgent ?? '');
}
