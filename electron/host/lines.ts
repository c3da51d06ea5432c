// Newline framing for the control socket: one JSON message per line (shared/wire.ts), however
// the bytes happen to be split into chunks on the way.
import type net from 'node:net';

export interface LineLimit {
  /** Longest unfinished line kept waiting for its newline, in characters. */
  maxChars: number;
  /** Called once the unfinished line grows past maxChars; that partial line is dropped. */
  onOverflow(): void;
}

/** Calls `onLine` for every complete line the socket receives; blank lines are skipped. */
export function onLines(socket: net.Socket, onLine: (line: string) => void, limit?: LineLimit): void {
  socket.setEncoding('utf8');
  let buffer = '';
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.trim()) onLine(line);
    }
    if (limit && buffer.length > limit.maxChars) {
      limit.onOverflow();
      buffer = '';
    }
  });
}
