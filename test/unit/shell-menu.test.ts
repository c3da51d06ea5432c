// The application menu: the usual shortcuts through roles, and our own Help items.
import { describe, expect, it } from 'vitest';
import { appMenuTemplate, type MenuNode } from '../../electron/shell/app-menu.js';

function flat(nodes: MenuNode[]): MenuNode[] {
  return nodes.flatMap((n) => ('submenu' in n ? [n, ...flat(n.submenu)] : [n]));
}
const roles = (nodes: MenuNode[]) => flat(nodes).flatMap((n) => ('role' in n && n.role ? [n.role] : []));

describe('application menu', () => {
  it('gives text fields the usual editing shortcuts and the window its zoom and close keys', () => {
    const linux = appMenuTemplate({ platform: 'linux', dev: false });
    expect(linux.map((m) => ('label' in m ? m.label : ''))).toEqual(['&File', '&Edit', '&View', '&Window', '&Help']);
    for (const role of ['undo', 'redo', 'cut', 'copy', 'paste', 'selectAll', 'zoomIn', 'zoomOut', 'resetZoom', 'togglefullscreen', 'minimize', 'close']) {
      expect(roles(linux), role).toContain(role);
    }
    expect(flat(linux)).toContainEqual({ label: 'Quit', action: 'quit', accelerator: 'CmdOrCtrl+Q' });
  });

  it('keeps reload and DevTools out of the shipped app', () => {
    expect(roles(appMenuTemplate({ platform: 'linux', dev: false }))).not.toContain('toggleDevTools');
    expect(roles(appMenuTemplate({ platform: 'linux', dev: false }))).not.toContain('reload');
    expect(roles(appMenuTemplate({ platform: 'linux', dev: true }))).toEqual(expect.arrayContaining(['reload', 'toggleDevTools']));
  });

  it('opens the log folder from Help', () => {
    const help = appMenuTemplate({ platform: 'win32', dev: false }).find((m) => 'label' in m && m.label === '&Help');
    expect(help && 'submenu' in help ? help.submenu : []).toContainEqual({ label: 'Open Log Folder', action: 'open-log-folder' });
  });

  it('follows macOS conventions there: an app menu with About, Hide and Quit', () => {
    const mac = appMenuTemplate({ platform: 'darwin', dev: false });
    expect(mac[0]).toMatchObject({ label: 'Boxkeep' });
    expect(roles([mac[0]!])).toEqual(expect.arrayContaining(['about', 'hide', 'hideOthers', 'unhide', 'services']));
    expect(flat([mac[0]!])).toContainEqual({ label: 'Quit Boxkeep', action: 'quit', accelerator: 'CmdOrCtrl+Q' });
  });
});
