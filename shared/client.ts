// The typed client: `api.snapshots.create({...})`, generated from the channel map over any
// transport that can invoke a channel. Used by the renderer (over preload or WebSocket), the
// CLI (in-process or over the local socket) and tests.
import { CHANNELS, type Channel, type ChannelInput, type ChannelResult } from './channels.js';
import type { EventMap, EventName } from './events.js';

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
export type Subscribe = <E extends EventName>(event: E, listener: (payload: EventMap[E]) => void) => () => void;

/** What the renderer gets from either transport (over IPC it is built from window.boxkeep). */
export type BoxkeepBridge = Api & {
  on: Subscribe;
  /** Inside the Electron app: the desktop-only channels (a file picker) answer; elsewhere they are refused. */
  desktop: boolean;
};

export function createApi(invoke: Invoke): Api {
  const api: Record<string, Record<string, (input?: unknown) => Promise<unknown>>> = {};
  for (const channel of CHANNELS) {
    const [area, verb] = channel.split(':') as [string, string];
    (api[area] ??= {})[verb] = (input?: unknown) => invoke(channel, input ?? {});
  }
  return api as unknown as Api;
}
