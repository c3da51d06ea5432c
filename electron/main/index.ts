// The Electron main process: wiring only. Every decision lives in electron/shell (tested under
// Node); this file connects it to Electron's objects in the order shell/startup.ts sets.
import { app, BrowserWindow, shell } from 'electron';
import log from 'electron-log/main';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultHome } from '../core/home.js';
import { configureFileLog, logDir, structuredLogger } from '../shell/logging.js';
import { decideQuit } from '../shell/quit.js';
import { recoverySummary, startApp, type AppRuntime } from '../shell/startup.js';
import { startTray, type TrayController } from '../shell/tray-controller.js';
import { autostartEnabled, launchCommand, setAutostart, startedHidden, type AutostartDeps } from '../shell/autostart.js';
import { APP_INDEX_URL } from '../shell/app-protocol.js';
import { askQuit, notify, showError } from './dialogs.main.js';
import { bindIpc, broadcast } from './ipc.main.js';
import { installAppMenu } from './menu.main.js';
import { registerAppScheme, serveAppScheme } from './protocol.main.js';
import { createTrayView } from './tray.main.js';
import { createMainWindow, lockDownSession } from './window.main.js';

// Before any path is asked for: userData (window state) and the log folder then agree in
// development and in the packaged app.
app.setName('Boxkeep');
if (process.platform === 'win32') app.setAppUserModelId('dev.boxkeep.app');

const here = path.dirname(fileURLToPath(import.meta.url));
const appRoot = app.getAppPath();
const assetsDir = path.join(appRoot, 'assets');
const devServerUrl = !app.isPackaged && process.env.ELECTRON_RENDERER_URL ? process.env.ELECTRON_RENDERER_URL : null;

configureFileLog(log, 'main.log', { dir: logDir(), console: !app.isPackaged });
const logger = structuredLogger(log, 'main');
const rendererLog = structuredLogger(log, 'renderer');
registerAppScheme();

let window: BrowserWindow | null = null;
let runtime: AppRuntime | null = null;
let tray: TrayController | null = null;
let quitDecided = false;

function openMainWindow(): void {
  if (window && !window.isDestroyed()) {
    if (window.isMinimized()) window.restore();
    window.show();
    window.focus();
    return;
  }
  window = createMainWindow({
    preload: path.join(here, '../preload/index.cjs'),
    url: devServerUrl ?? APP_INDEX_URL,
    stateFile: path.join(app.getPath('userData'), 'window-state.json'),
    icon: path.join(assetsDir, 'icon.png'),
    rendererLog,
  });
  window.on('closed', () => (window = null));
}

app.on('second-instance', () => openMainWindow());

void startApp({
  home: defaultHome(),
  logger,
  claimSingleInstance: () => app.requestSingleInstanceLock(),
  whenReady: async () => {
    await app.whenReady();
    lockDownSession();
    serveAppScheme(path.join(appRoot, 'out', 'renderer'));
  },
  bindIpc: (router) => bindIpc(router, () => BrowserWindow.getAllWindows(), devServerUrl, logger),
  broadcast: (event, payload) => broadcast(BrowserWindow.getAllWindows(), event, payload),
  // Started at login: the tray only; the window opens from it.
  openMainWindow: () => (startedHidden(process.argv) ? undefined : openMainWindow()),
  showRecovery: (report) => {
    // The window asks for recovery:last when it loads; the notification covers a hidden window.
    notify({ kind: report.items.some((i) => i.level === 'kept') ? 'failure' : 'success', title: 'Boxkeep recovered from the last run', body: recoverySummary(report) });
  },
  fatal: (title, message) => showError(title, message),
  exit: (code) => app.exit(code),
}).then((started) => {
  if (!started) return;
  runtime = started;
  installAppMenu({
    dev: !app.isPackaged,
    onAction: (action) => {
      if (action === 'quit') app.quit();
      else if (action === 'open-log-folder') void shell.openPath(path.dirname(log.transports.file.getFile().path));
      else if (action === 'open-home-folder') void shell.openPath(defaultHome());
      else if (action === 'show-recovery') {
        openMainWindow();
        void started.api.recovery.last().then((report) => report && broadcast(BrowserWindow.getAllWindows(), 'recovery:report', report));
      }
    },
  });
  const view = createTrayView(assetsDir, (action) => void tray?.dispatch(action));
  const login: AutostartDeps = {
    platform: process.platform, env: process.env,
    command: launchCommand({ isPackaged: app.isPackaged, execPath: process.execPath, appRoot, env: process.env }),
    loginItem: { set: (openAtLogin, args) => app.setLoginItemSettings({ openAtLogin, args }), get: () => app.getLoginItemSettings().openAtLogin },
  };
  const autostart = { get: () => autostartEnabled(login), set: (on: boolean) => setAutostart(login, on) };
  tray = startTray({ api: started.api, on: started.on, view, notify: (n) => notify(n, path.join(assetsDir, 'icon.png')), openWindow: openMainWindow, quit: () => app.quit(), autostart });
});

// With a tray the app stays when its window closes: it owns the home and runs AutoProtect.
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin' && !tray) app.quit();
});
app.on('activate', () => runtime && openMainWindow());

app.on('before-quit', (event) => {
  if (quitDecided || !runtime) return;
  event.preventDefault();
  // Boxes belong to whoever owns the home; a forwarding app leaves them to it.
  const decide = runtime.mode === 'owner' ? decideQuit({ api: runtime.api, ask: (q) => askQuit(q, window) }) : Promise.resolve({ quit: true, stopped: [], kept: [], failures: [] });
  void decide.then(async (outcome) => {
    for (const f of outcome.failures) logger.error('could not stop box at quit', { op: 'quit', boxId: f.boxId, error: f.message });
    if (outcome.failures.length) showError('Some boxes did not stop', outcome.failures.map((f) => `${f.name}: ${f.message}`).join('\n'));
    if (!outcome.quit) return;
    if (outcome.kept.length) logger.info('quit leaving boxes running', { op: 'quit', kept: outcome.kept });
    quitDecided = true;
    tray?.dispose();
    await runtime?.close().catch((err: unknown) => logger.error('close failed', { op: 'quit', error: String(err) }));
    app.quit();
  });
});
