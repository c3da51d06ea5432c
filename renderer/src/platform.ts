// What the Electron shell may add beyond the typed client. Optional: in a browser (the web
// host) none of it exists and the UI falls back (a path field instead of a file picker).
export interface ShellBridge {
  /** Opens the system file picker for a disk image; resolves to its absolute path or null. */
  pickImageFile?(): Promise<string | null>;
}

export function shellBridge(): ShellBridge {
  return ((globalThis as { boxkeepShell?: ShellBridge }).boxkeepShell ?? {}) as ShellBridge;
}

export function isMacPlatform(): boolean {
  const nav = (globalThis as { navigator?: { platform?: string; userAgent?: string } }).navigator;
  return /Mac|iPhone|iPad/.test(nav?.platform ?? nav?.userAgent ?? '');
}
