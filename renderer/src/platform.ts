// What the page can tell about the machine it runs on. (What the Electron shell adds beyond
// the browser is in the channel map, marked desktopOnly, and offered as store actions.)
import type { KeyHost } from './keyboard.js';

/** In Electron the preload defines `window.boxkeep`; in a browser tab (`boxkeep serve`) it is absent. */
export function keyHost(): KeyHost {
  return { mac: isMacPlatform(), browser: !(globalThis as { boxkeep?: unknown }).boxkeep };
}

export function isMacPlatform(): boolean {
  const nav = (globalThis as { navigator?: { platform?: string; userAgent?: string } }).navigator;
  return /Mac|iPhone|iPad/.test(nav?.platform ?? nav?.userAgent ?? '');
}
