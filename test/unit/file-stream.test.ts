// A file as a one-way stream (electron/core/file-stream.ts): read only as the reader takes it,
// ended closed once whole, the descriptor closed however it ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { descriptorStream } from '../../electron/core/file-stream.js';
import { FramedStream, joinStreams, STREAM_WINDOW, type StreamEnd, type StreamFrame } from '../../shared/streams.js';

let dir: string;
let bytes: Buffer;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bkfs-'));
  bytes = Buffer.alloc(5 * STREAM_WINDOW + 123);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
  fs.writeFileSync(path.join(dir, 'f'), bytes);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const open = () => fs.openSync(path.join(dir, 'f'), 'r');
const isOpen = (fd: number) => { try { fs.fstatSync(fd); return true; } catch { return false; } };
const ended = (s: { onClose(l: (e: StreamEnd) => void): unknown }) => new Promise<StreamEnd>((r) => s.onClose(r));

describe('descriptorStream', () => {
  it('sends the whole file in order, ends closed and closes the descriptor', async () => {
    const fd = open();
    const s = descriptorStream(fd, bytes.length, 'the file');
    const chunks: Uint8Array[] = [];
    s.onData((b) => chunks.push(b));
    expect(await ended(s)).toEqual({ reason: 'closed', message: `All of the file was sent (${bytes.length} bytes).` });
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(isOpen(fd)).toBe(false);
  });

  it('reads nothing before a reader listens, and no more than a window ahead of a framed reader that does not acknowledge', async () => {
    const s = descriptorStream(open(), bytes.length, 'the file');
    await new Promise((r) => setTimeout(r, 20));
    const sent: StreamFrame[] = [];
    const framed = new FramedStream((f) => sent.push(f));
    joinStreams(s, framed);
    await new Promise((r) => setTimeout(r, 50));
    const inFlight = sent.reduce((n, f) => n + (f.kind === 'data' ? f.bytes.length : 0), 0);
    expect(inFlight).toBe(STREAM_WINDOW);
    expect(s.ended).toBeNull();
    // Acknowledged, the rest follows, then the end.
    for (let acked = 0; !framed.ended && acked < 100; acked++) {
      const data = sent.splice(0).filter((f) => f.kind === 'data').reduce((n, f) => n + (f as { bytes: Uint8Array }).bytes.length, 0);
      if (data) framed.receive({ kind: 'ack', bytes: data });
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(framed.ended).toMatchObject({ reason: 'closed' });
  });

  it('a reader that closes it closes the descriptor; one that writes to it ends it with an error', async () => {
    const fd = open();
    const s = descriptorStream(fd, bytes.length, 'the file');
    s.onData(() => s.close());
    await ended(s);
    expect(isOpen(fd)).toBe(false);
    const t = descriptorStream(open(), bytes.length, 'the file');
    t.write(new Uint8Array([1]));
    expect(await ended(t)).toEqual({ reason: 'error', message: 'The file goes one way; the stream takes no bytes.' });
  });
});
