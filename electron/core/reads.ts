// The channels answered from the rows and files alone, changing nothing: the router serves them
// from the whole engine, and a home opened only to read (reader.ts) from these same functions.
import type { ChannelInput, ChannelResult } from '../../shared/channels.js';
import type { HomeData } from './deps.js';
import { snapshotTree } from './snapshots/read.js';

export const READ_CHANNELS = ['boxes:list', 'images:list', 'snapshots:list'] as const;
export type ReadChannel = (typeof READ_CHANNELS)[number];

export type ReadHandlers = { [C in ReadChannel]: (input: ChannelInput<C>) => ChannelResult<C> };

export function readHandlers(home: HomeData): ReadHandlers {
  return {
    'boxes:list': () => home.store.listBoxes(),
    'images:list': () => home.store.listImages(),
    'snapshots:list': (i) => snapshotTree(home, i.box),
  };
}

export const isReadChannel = (channel: string): channel is ReadChannel => (READ_CHANNELS as readonly string[]).includes(channel);
