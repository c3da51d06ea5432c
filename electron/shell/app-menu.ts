// The application menu as data. Standard items use Electron roles, which bring the platform's
// usual shortcuts (copy/paste in text fields, zoom, full screen, close, quit); our own items
// carry an action id the wiring maps to a handler.
export type MenuAction = 'open-log-folder' | 'open-home-folder' | 'show-recovery' | 'quit';

export type MenuNode =
  | { role: string; label?: string }
  | { label: string; action: MenuAction; accelerator?: string }
  | { type: 'separator' }
  | { label: string; role?: string; submenu: MenuNode[] };

export function appMenuTemplate(opts: { platform: NodeJS.Platform; dev: boolean; appName?: string }): MenuNode[] {
  const mac = opts.platform === 'darwin';
  const name = opts.appName ?? 'Boxkeep';
  const menus: MenuNode[] = [];
  if (mac) {
    menus.push({
      label: name,
      submenu: [{ role: 'about' }, { type: 'separator' }, { role: 'services' }, { type: 'separator' }, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, { type: 'separator' }, { label: `Quit ${name}`, action: 'quit', accelerator: 'CmdOrCtrl+Q' }],
    });
  }
  menus.push({ label: '&File', submenu: mac ? [{ role: 'close' }] : [{ role: 'close', label: 'Close Window' }, { type: 'separator' }, { label: 'Quit', action: 'quit', accelerator: 'CmdOrCtrl+Q' }] });
  menus.push({
    label: '&Edit',
    submenu: [{ role: 'undo' }, { role: 'redo' }, { type: 'separator' }, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'delete' }, { type: 'separator' }, { role: 'selectAll' }],
  });
  const view: MenuNode[] = [{ role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }];
  // Reloading or opening DevTools in a shipped app only confuses; developers get both.
  if (opts.dev) view.unshift({ role: 'reload' }, { role: 'forceReload' }, { role: 'toggleDevTools' }, { type: 'separator' });
  menus.push({ label: '&View', submenu: view });
  menus.push({ label: '&Window', role: 'windowMenu', submenu: mac ? [{ role: 'minimize' }, { role: 'zoom' }, { type: 'separator' }, { role: 'front' }] : [{ role: 'minimize' }, { role: 'close' }] });
  menus.push({
    label: '&Help',
    role: 'help',
    submenu: [
      { label: 'Show Last Recovery Report', action: 'show-recovery' },
      { type: 'separator' },
      { label: 'Open Log Folder', action: 'open-log-folder' },
      { label: 'Open Boxkeep Home Folder', action: 'open-home-folder' },
    ],
  });
  return menus;
}
