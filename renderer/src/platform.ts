// What the page can tell about the machine it runs on. (What the Electron shell adds beyond
// the browser is in the channel map, marked desktopOnly, and offered as store actions.)
export function isMacPlatform(): boolean {
  const nav = (globalThis as { navigator?: { platform?: string; userAgent?: string } }).navigator;
  return /Mac|iPhone|iPad/.test(nav?.platform ?? nav?.userAgent ?? '');
}
