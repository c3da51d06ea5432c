// The application menu: shell/app-menu.ts is the template; actions are mapped here.
import { Menu, type MenuItemConstructorOptions } from 'electron';
import { appMenuTemplate, type MenuAction, type MenuNode } from '../shell/app-menu.js';

export function installAppMenu(opts: { dev: boolean; onAction: (action: MenuAction) => void }): void {
  const toItem = (node: MenuNode): MenuItemConstructorOptions => {
    if ('type' in node) return { type: 'separator' };
    if ('submenu' in node) return { label: node.label, role: node.role as MenuItemConstructorOptions['role'], submenu: node.submenu.map(toItem) };
    if ('action' in node) return { label: node.label, accelerator: node.accelerator, click: () => opts.onAction(node.action) };
    return { role: node.role as MenuItemConstructorOptions['role'], label: node.label };
  };
  Menu.setApplicationMenu(Menu.buildFromTemplate(appMenuTemplate({ platform: process.platform, dev: opts.dev }).map(toItem)));
}
