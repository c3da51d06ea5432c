// The tray icon: shell/tray-controller.ts decides the menu; this maps its items to Electron's.
import { Menu, nativeImage, nativeTheme, Tray, type MenuItemConstructorOptions } from 'electron';
import path from 'node:path';
import type { TrayView } from '../shell/tray-controller.js';
import type { TrayAction, TrayItem } from '../shell/tray-menu.js';

export function createTrayView(assetsDir: string, dispatch: (action: TrayAction) => void): TrayView & { destroy(): void } {
  // A light glyph on dark panels, a dark one on light panels.
  const icon = () => nativeImage.createFromPath(path.join(assetsDir, nativeTheme.shouldUseDarkColors ? 'tray-light.png' : 'tray-dark.png'));
  const tray = new Tray(icon());
  const onTheme = () => tray.setImage(icon());
  nativeTheme.on('updated', onTheme);
  const toMenuItem = (item: TrayItem): MenuItemConstructorOptions => {
    if (item.kind === 'separator') return { type: 'separator' };
    if (item.kind === 'label') return { label: item.label, enabled: false };
    const check = item.checked === undefined ? {} : { type: 'checkbox' as const, checked: item.checked };
    return { label: item.label, enabled: item.enabled, toolTip: item.toolTip, ...check, click: () => dispatch(item.action) };
  };
  return {
    setMenu: (items) => tray.setContextMenu(Menu.buildFromTemplate(items.map(toMenuItem))),
    setToolTip: (text) => tray.setToolTip(text),
    destroy() {
      nativeTheme.off('updated', onTheme);
      tray.destroy();
    },
  };
}
