// The channels that open a byte stream, by name alone: a client that routes calls without the
// channel map (the CLI, electron/cli/api.ts) reads them here. channels.ts marks the same
// channels `stream: true` and fails to compile if the two ever differ.
export const STREAM_CHANNEL_NAMES = ['consoles:open', 'displays:open', 'displays:screenshot'] as const;
export type StreamChannelName = (typeof STREAM_CHANNEL_NAMES)[number];
