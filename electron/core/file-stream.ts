// A file's bytes as a one-way byte stream (a screenshot of any size, see vm/screen.ts). Read
// from an open descriptor a piece at a time, and only while the reader keeps up: a transport
// whose window is full pauses the stream (joinStreams), so memory holds one piece whatever
// the file's size. Ends 'closed' once every byte went, or 'error' saying what failed; the
// descriptor is closed however it ends.
import fs from 'node:fs';
import { LocalStream, STREAM_CHUNK, type ByteStream, type StreamEnd } from '../../shared/streams.js';

/** Streams `size` bytes of `fd` from its start; `what` names the file in messages ("the screenshot of the box "a""). */
export function descriptorStream(fd: number, size: number, what: string): ByteStream {
  let at = 0;
  let paused = false;
  let listening = false;
  let scheduled = false;
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    fs.closeSync(fd);
  };
  const finish = (end: StreamEnd) => {
    release();
    stream.end(end);
  };
  const pump = () => {
    scheduled = false;
    if (stream.ended || paused || !listening) return;
    try {
      const piece = Buffer.allocUnsafe(Math.min(STREAM_CHUNK, size - at));
      const n = fs.readSync(fd, piece, 0, piece.length, at);
      if (n === 0) throw new Error(`it ended after ${at} of its ${size} bytes`);
      at += n;
      stream.push(piece.subarray(0, n));
    } catch (err) {
      return finish({ reason: 'error', message: `Could not read ${what}: ${(err as Error).message}` });
    }
    if (at >= size) return finish({ reason: 'closed', message: `All of ${what} was sent (${size} bytes).` });
    schedule();
  };
  // setImmediate, not a loop: other connections get their turn between pieces.
  const schedule = () => {
    if (scheduled || stream.ended) return;
    scheduled = true;
    setImmediate(pump);
  };
  const stream: LocalStream = new LocalStream({
    write: () => {
      queueMicrotask(() => finish({ reason: 'error', message: `${what.charAt(0).toUpperCase()}${what.slice(1)} goes one way; the stream takes no bytes.` }));
      return true;
    },
    setPaused: (p) => {
      paused = p;
      if (!p) schedule();
    },
    closed: release,
    listening: () => {
      listening = true;
      schedule();
    },
  });
  return stream;
}
