// The typed client: `api.snapshots.create({...})`, generated from the channel map over any
// transport that can invoke a channel. Used by the renderer (over preload or WebSocket), the
// CLI (in-process or over the local socket) and tests.
import { CHANNELS, isStreamChannel, type Channel, type ChannelInput, type ChannelResult, type StreamChannel } from './channels.js';
import { BoxkeepError } from './errors.js';
import type { EventMap, EventName } from './events.js';
import type { ByteStream } from './streams.js';

type AreaOf<C> = C extends `${infer A}:${string}` ? A : never;
type VerbOf<C, A extends string> = C extends `${A}:${infer V}` ? V : never;
type Area = AreaOf<Channel>;

type Method<C extends Channel> = {} extends ChannelInput<C>
  ? (input?: ChannelInput<C>) => Promise<ChannelResult<C>>
  : (input: ChannelInput<C>) => Promise<ChannelResult<C>>;

export type Api = {
  [A in Area]: { [C in Channel as VerbOf<C, A>]: Method<C> };
};

export type Invoke = (channel: Channel, input: unknown) => Promise<unknown>;
/** Opens a stream channel; rejects with a BoxkeepError as invoke does. */
export type OpenStream = (channel: StreamChannel, input: unknown) => Promise<ByteStream>;
export type Subscribe = <E extends EventName>(event: E, listener: (payload: EventMap[E]) => void) => () => void;

/** What the renderer gets from either transport (over IPC it is built from window.boxkeep). */
export type BoxkeepBridge = Api & {
  on: Subscribe;
  /** Inside the Electron app: the desktop-only channels (a file picker) answer; elsewhere they are refused. */
  desktop: boolean;
};

/** A transport that cannot carry streams still offers the verb; it says so when called. */
const noStreams: OpenStream = async (channel) => {
  throw new BoxkeepError('InvalidState', `${channel} needs a transport that carries byte streams; this one does not.`);
};

export function createApi(invoke: Invoke, openStream: OpenStream = noStreams): Api {
  const api: Record<string, Record<string, (input?: unknown) => Promise<unknown>>> = {};
  for (const channel of CHANNELS) {
    const [area, verb] = channel.split(':') as [string, string];
    (api[area] ??= {})[verb] = isStreamChannel(channel) ? (input?: unknown) => openStream(channel, input ?? {}) : (input?: unknown) => invoke(channel, input ?? {});
  }
  return api as unknown as Api;
}
