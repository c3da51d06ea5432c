// Electron IPC transport: every channel bound to ipcMain.handle through the sender check in
// shell/ipc.ts, the desktop-only ones to the native dialogs here; events pushed to every
// window we own.
import { dialog, ipcMain, MessageChannelMain, webContents, type BrowserWindow, type IpcMainInvokeEvent, type MessagePortMain } from 'electron';
import type { EventMap, EventName } from '../../shared/events.js';
import { EVENT_CHANNEL, STREAM_PORT_CHANNEL } from '../../shared/ipc.js';
import type { PortEnd } from '../../shared/port-stream.js';
import type { Router } from '../../shared/transport.js';
import type { Logger } from '../core/logger.js';
import { ipcHandlers, type DesktopHandlers, type SenderInfo, type StreamPorts } from '../shell/ipc.js';
import { ARCHIVE_FILE_FILTERS, IMAGE_FILE_FILTERS } from '../shell/security.js';

export function bindIpc(router: Router, windows: () => BrowserWindow[], devServerUrl: string | null, logger: Logger): void {
  const trusted = () => ({ webContentsIds: new Set(windows().map((w) => w.webContents.id)), devServerUrl });
  const desktop: DesktopHandlers = {
    'shell:pickImageFile': async (_input, sender) => {
      const owner = windows().find((w) => w.webContents.id === sender.webContentsId);
      const options = { title: 'Import a disk image', properties: ['openFile' as const], filters: IMAGE_FILE_FILTERS };
      const picked = owner ? await dialog.showOpenDialog(owner, options) : await dialog.showOpenDialog(options);
      return picked.canceled ? null : picked.filePaths[0] || null;
    },
    'shell:pickArchiveFile': async (_input, sender) => {
      const owner = windows().find((w) => w.webContents.id === sender.webContentsId);
      const options = { title: 'Import a box', properties: ['openFile' as const], filters: ARCHIVE_FILE_FILTERS };
      const picked = owner ? await dialog.showOpenDialog(owner, options) : await dialog.showOpenDialog(options);
      return picked.canceled ? null : picked.filePaths[0] || null;
    },
    'shell:pickArchiveSavePath': async (input, sender) => {
      const owner = windows().find((w) => w.webContents.id === sender.webContentsId);
      const options = { title: 'Export a box', defaultPath: input.defaultName, filters: ARCHIVE_FILE_FILTERS };
      const picked = owner ? await dialog.showSaveDialog(owner, options) : await dialog.showSaveDialog(options);
      return picked.canceled ? null : picked.filePath || null;
    },
  };
  const streams: StreamPorts = {
    create() {
      const { port1, port2 } = new MessageChannelMain();
      return { local: mainPort(port1), remote: port2 };
    },
    hand(sender, opened, remote) {
      // The window may have closed while the console opened: say so, and ipcHandlers lets go of both ends.
      const contents = webContents.fromId(sender.webContentsId);
      if (!contents || contents.isDestroyed()) throw new Error('The window that asked for the stream is gone.');
      contents.postMessage(STREAM_PORT_CHANNEL, opened, [remote as MessagePortMain]);
    },
  };
  const handlers = ipcHandlers(router, trusted, { desktop, streams, onRefused: (channel, reason) => logger.warn('ipc call refused', { op: channel, reason }) });
  for (const [channel, handler] of handlers) {
    ipcMain.handle(channel, (event: IpcMainInvokeEvent, input: unknown) => handler(senderOf(event), input));
  }
}

function mainPort(port: MessagePortMain): PortEnd {
  return {
    post: (frame) => port.postMessage(frame),
    onMessage: (listener) => void port.on('message', (e) => listener(e.data)),
    onClose: (listener) => void port.on('close', listener),
    start: () => port.start(),
    close: () => port.close(),
  };
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
