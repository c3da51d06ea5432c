// The main window: the settings from shell/security.ts, navigation and new windows denied,
// every permission refused, its place remembered, and its console copied into the log.
import { BrowserWindow, screen, session, shell, type WebContents } from 'electron';
import type { Logger } from '../core/logger.js';
import { rendererLevel } from '../shell/logging.js';
import { CSP } from '../host/ui-policy.js';
import { decideNavigation, decidePermission, decideWindowOpen, isOwnedExternalLink } from '../shell/security.js';
import { loadWindowState, MIN_SIZE, trackWindowState } from '../shell/window-state.js';

export interface WindowOptions {
  preload: string;
  url: string;
  stateFile: string;
  icon?: string;
  rendererLog: Logger;
}

export function createMainWindow(opts: WindowOptions): BrowserWindow {
  const state = loadWindowState(opts.stateFile, screen.getAllDisplays().map((d) => d.workArea));
  const win = new BrowserWindow({
    ...state,
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    show: false,
    title: 'Boxkeep',
    icon: opts.icon,
    // Spelled out so a reader (and electronegativity) sees them where the window is made;
    // test/unit/shell-security.test.ts holds this block equal to WEB_PREFERENCES.
    webPreferences: {
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
      disableBlinkFeatures: 'Auxclick',
      preload: opts.preload,
    },
  });
  if (state.maximized) win.maximize();
  trackWindowState(win, opts.stateFile);
  harden(win.webContents);
  win.webContents.on('console-message', (event) => {
    opts.rendererLog[rendererLevel(event.level)](event.message, { source: 'renderer', line: event.lineNumber });
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(opts.url);
  return win;
}

function harden(contents: WebContents): void {
  contents.setWindowOpenHandler(({ url }) => {
    const decision = decideWindowOpen(url);
    if (decision.openExternal) openOwnedLink(decision.openExternal);
    return { action: decision.action };
  });
  contents.on('will-navigate', (event, url) => {
    const decision = decideNavigation(url);
    if (!decision.allow) event.preventDefault();
    if (decision.openExternal) openOwnedLink(decision.openExternal);
  });
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

/** The one call to shell.openExternal in the app, behind the owned-link check. */
export function openOwnedLink(url: string): void {
  if (isOwnedExternalLink(url)) void shell.openExternal(url);
}

/**
 * Every session refuses every permission. The CSP also goes on every web response (the dev
 * server's included); app:// responses carry it from shell/app-protocol.ts.
 */
export function lockDownSession(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, permission, callback) => callback(decidePermission(permission)));
  ses.setPermissionCheckHandler((_contents, permission) => decidePermission(permission));
  ses.setDevicePermissionHandler(() => false);
  ses.setDisplayMediaRequestHandler((_request, callback) => callback(null));
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
}
