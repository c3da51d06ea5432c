// The Electron IPC transport, minus Electron: who may call (our own window's main frame on
// our own origin), then the router (or, for a desktop-only channel, main's own handler), with
// the reply settled into {ok, value | error} because an Error loses its code crossing IPC.
// A stream channel answers {stream: id} and hands the renderer's preload a MessagePort of its
// own for the bytes (shared/port-stream.ts). main/ipc.main.ts binds this to ipcMain.handle.
import { CHANNELS, isDesktopOnly, isStreamChannel, type Channel, type ChannelInput, type ChannelResult, type DesktopChannel } from '../../shared/channels.js';
import { BoxkeepError, toWireError } from '../../shared/errors.js';
import type { Settled, StreamOpened } from '../../shared/ipc.js';
import { portStream, type PortEnd } from '../../shared/port-stream.js';
import { joinStreams } from '../../shared/streams.js';
import type { Router } from '../../shared/transport.js';
import { parseInput } from '../../shared/validate.js';
import { isOwnOrigin } from './security.js';

/** What the check needs from an IPC event: event.sender.id and event.senderFrame. */
export interface SenderInfo {
  webContentsId: number;
  /** Null when the frame is gone (navigated away or destroyed) before the call arrived. */
  frame: { url: string; isMainFrame: boolean } | null;
}

export interface TrustedSenders {
  /** The webContents ids of windows we created. */
  webContentsIds: ReadonlySet<number>;
  /** The dev server we loaded the renderer from, if any (development only). */
  devServerUrl: string | null;
}

export function senderProblem(sender: SenderInfo, trusted: TrustedSenders): string | null {
  if (!trusted.webContentsIds.has(sender.webContentsId)) return 'The call came from a window Boxkeep did not open.';
  if (!sender.frame) return 'The calling frame is gone.';
  if (!sender.frame.isMainFrame) return 'The call came from a sub-frame; only the Boxkeep page itself may call.';
  if (!isOwnOrigin(sender.frame.url, trusted.devServerUrl)) return 'The call came from a page that is not Boxkeep\'s own.';
  return null;
}

/** What the main process replies for one call: the result, or the error as {code, message}. */
export async function settle<T>(work: () => Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    return { ok: false, error: toWireError(err) };
  }
}

export type IpcHandler = (sender: SenderInfo, input: unknown) => Promise<Settled<unknown>>;

/** What only the desktop can do, one handler per desktop-only channel; input arrives parsed. */
export type DesktopHandlers = { [C in DesktopChannel]: (input: ChannelInput<C>, sender: SenderInfo) => Promise<ChannelResult<C>> };

/** How main makes a port pair and hands one end to a window (Electron: MessageChannelMain, webContents.postMessage). */
export interface StreamPorts {
  create(): { local: PortEnd; remote: unknown };
  hand(sender: SenderInfo, opened: StreamOpened, remote: unknown): void;
}

export interface IpcOptions {
  /** Without them, desktop-only channels go to the router, which refuses them. */
  desktop?: DesktopHandlers;
  /** Without them, stream channels go to the router as calls, which it refuses. */
  streams?: StreamPorts;
  onRefused?: (channel: Channel, reason: string) => void;
}

/**
 * One handler per channel, all from the channel map. An untrusted sender gets the same
 * refusal shape as any other error, and its input is never parsed.
 */
export function ipcHandlers(router: Router, trusted: () => TrustedSenders, opts: IpcOptions = {}): Map<Channel, IpcHandler> {
  const handlers = new Map<Channel, IpcHandler>();
  let nextStream = 1;
  for (const channel of CHANNELS) {
    handlers.set(channel, (sender, input) =>
      settle(async () => {
        const problem = senderProblem(sender, trusted());
        if (problem) {
          opts.onRefused?.(channel, problem);
          throw new BoxkeepError('InvalidState', `Refused ${channel}: ${problem}`);
        }
        if (opts.desktop && isDesktopOnly(channel)) {
          const run = opts.desktop[channel] as (input: unknown, sender: SenderInfo) => Promise<unknown>;
          return run(parseInput(channel, input), sender);
        }
        if (opts.streams && isStreamChannel(channel)) {
          const engine = await router.openStream(channel, input);
          let local: PortEnd | null = null;
          try {
            const pair = opts.streams.create();
            local = pair.local;
            const opened: StreamOpened = { stream: nextStream++ };
            joinStreams(engine, portStream(local));
            opts.streams.hand(sender, opened, pair.remote);
            return opened;
          } catch (err) {
            // No one will ever read this port: let go of the console and of the port both.
            engine.close({ reason: 'error', message: 'The window could not be given the stream.' });
            local?.close();
            throw err;
          }
        }
        return router.invoke(channel, input);
      }),
    );
  }
  return handlers;
}
