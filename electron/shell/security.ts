// The security settings of the Electron window, in one place, so a test can hold them and the
// Electron wiring cannot drift from them. Plain data and pure predicates: no 'electron' import
// here. The CSP and headers every served page carries are host/ui-policy.ts's.

/** The scheme the packaged renderer is served from inside Electron (registered as secure). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'boxkeep';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** BrowserWindow webPreferences; `preload` is added by the wiring (its path is known there). */
export const WEB_PREFERENCES = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  experimentalFeatures: false,
  webviewTag: false,
  navigateOnDragDrop: false,
  spellcheck: false,
  safeDialogs: true,
  // A middle click would otherwise open a link in a new window, around setWindowOpenHandler.
  disableBlinkFeatures: 'Auxclick',
} as const;

/** The file picker for image import offers disk images first; any file can still be chosen. */
export const IMAGE_FILE_FILTERS = [
  { name: 'Disk images and installers', extensions: ['qcow2', 'img', 'raw', 'iso'] },
  { name: 'All files', extensions: ['*'] },
];

export const ARCHIVE_FILE_FILTERS = [
  { name: 'Boxkeep archives', extensions: ['boxkeep'] },
  { name: 'All files', extensions: ['*'] },
];

/** Links we own: the only URLs `shell.openExternal` may open. */
export const OWNED_LINK_HOSTS: readonly string[] = ['boxkeep.dev', 'github.com'];
const OWNED_GITHUB_PATH = /^\/boxkeep\//i;

export function isOwnedExternalLink(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.port) return false;
  if (url.hostname === 'github.com') return OWNED_GITHUB_PATH.test(url.pathname);
  return url.hostname === 'boxkeep.dev' || url.hostname.endsWith('.boxkeep.dev');
}

/** Navigation away from the app's own page is always denied; an owned link opens outside. */
export type NavigationDecision = { allow: false; openExternal: string | null };

export function decideNavigation(targetUrl: string): NavigationDecision {
  return { allow: false, openExternal: isOwnedExternalLink(targetUrl) ? targetUrl : null };
}

/** `window.open` never creates a window; an owned https link goes to the system browser. */
export function decideWindowOpen(targetUrl: string): { action: 'deny'; openExternal: string | null } {
  return { action: 'deny', openExternal: isOwnedExternalLink(targetUrl) ? targetUrl : null };
}

/** Camera, microphone, notifications from the page, clipboard reads...: none are needed. */
export function decidePermission(_permission: string): false {
  return false;
}

/** Whether `url` is a page of our own (the packaged app:// origin or the dev server we started). */
export function isOwnOrigin(url: string, devServerUrl: string | null): boolean {
  let origin: string;
  try {
    const parsed = new URL(url);
    origin = parsed.protocol === `${APP_SCHEME}:` ? `${parsed.protocol}//${parsed.host}` : parsed.origin;
  } catch {
    return false;
  }
  if (origin === APP_ORIGIN) return true;
  if (!devServerUrl) return false;
  try {
    return origin === new URL(devServerUrl).origin;
  } catch {
    return false;
  }
}
