// Electron IPC transport: every channel bound to ipcMain.handle through the sender check in
// shell/ipc.ts; events pushed to every window we own.
import { dialog, ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import type { EventMap, EventName } from '../../shared/events.js';
import { EVENT_CHANNEL, SHELL_CHANNELS } from '../../shared/ipc.js';
import type { Router } from '../../shared/transport.js';
import type { Logger } from '../core/logger.js';
import { ipcHandlers, senderProblem, type SenderInfo } from '../shell/ipc.js';
import { IMAGE_FILE_FILTERS } from '../shell/security.js';

export function bindIpc(router: Router, windows: () => BrowserWindow[], devServerUrl: string | null, logger: Logger): void {
  const trusted = () => ({ webContentsIds: new Set(windows().map((w) => w.webContents.id)), devServerUrl });
  const handlers = ipcHandlers(router, trusted, (channel, reason) => logger.warn('ipc call refused', { op: channel, reason }));
  for (const [channel, handler] of handlers) {
    ipcMain.handle(channel, (event: IpcMainInvokeEvent, input: unknown) => handler(senderOf(event), input));
  }
  ipcMain.handle(SHELL_CHANNELS.pickImageFile, async (event: IpcMainInvokeEvent) => {
    const problem = senderProblem(senderOf(event), trusted());
    if (problem) {
      logger.warn('ipc call refused', { op: SHELL_CHANNELS.pickImageFile, reason: problem });
      return null;
    }
    const owner = windows().find((w) => w.webContents.id === event.sender.id);
    const options = { title: 'Import a disk image', properties: ['openFile' as const], filters: IMAGE_FILE_FILTERS };
    const picked = owner ? await dialog.showOpenDialog(owner, options) : await dialog.showOpenDialog(options);
    return picked.canceled ? null : (picked.filePaths[0] ?? null);
  });
}

function senderOf(event: IpcMainInvokeEvent): SenderInfo {
  const frame = event.senderFrame;
  return { webContentsId: event.sender.id, frame: frame ? { url: frame.url, isMainFrame: frame.parent === null } : null };
}

export function broadcast<E extends EventName>(windows: BrowserWindow[], event: E, payload: EventMap[E]): void {
  for (const win of windows) {
    if (!win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, { event, payload });
  }
}
