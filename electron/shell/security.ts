// The security settings of every Boxkeep window and page, in one place, so a test can hold
// them and the Electron wiring cannot drift from them. Plain data and pure predicates: no
// 'electron' import here.

/** The scheme the packaged renderer is served from inside Electron (registered as secure). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'boxkeep';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/**
 * No inline script, no remote origin. The Electron window talks over IPC, so it may connect
 * nowhere but its own origin; a page of the web host may open one WebSocket: its own host's
 * (webHostCsp), never another local port. style-src stays 'self': React's style props go
 * through the CSSOM, which CSP does not gate.
 */
const cspWith = (connect: string) => [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  `connect-src ${connect}`,
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

export const CSP = cspWith("'self'");

export function webHostCsp(port: number): string {
  return cspWith(`'self' ws://127.0.0.1:${port} ws://localhost:${port}`);
}

/** Headers sent with every page and asset, by the web host and by the app:// handler. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  // The web host's URL carries its access token: never send it on as a referrer.
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

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
  { name: 'Disk images', extensions: ['qcow2', 'img', 'raw'] },
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
