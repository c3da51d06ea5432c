// The one shape every transport binds to and every caller talks to: the core's router
// implements it, the logging wrapper and the control-socket client pass it on, and Electron
// IPC, the WebSocket and the control socket serve it. Declared here, below every layer that
// uses it, so none of them has to import another to name it.
import type { Subscribe } from './client.js';
import type { ByteStream } from './streams.js';

export interface Router {
  /** Parses `raw` for `channel` and runs it; rejects with a BoxkeepError only. */
  invoke(channel: string, raw: unknown): Promise<unknown>;
  /** Parses `raw` for a stream channel and opens the stream; rejects with a BoxkeepError only. */
  openStream(channel: string, raw: unknown): Promise<ByteStream>;
  on: Subscribe;
}
