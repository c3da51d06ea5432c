// The stream protocol on its own: two FramedStreams wired to each other, as any carrier joins
// them. What a reader sees, what a writer may send, and how either end learns of the other's.
import { describe, expect, it } from 'vitest';
import { FramedStream, joinStreams, LocalStream, STREAM_WINDOW, type StreamEnd, type StreamFrame } from '../../shared/streams.js';

/** Two ends; frames are delivered when `flush` runs, as a carrier would, later. */
function pair() {
  const toB: StreamFrame[] = [];
  const toA: StreamFrame[] = [];
  const a = new FramedStream((f) => toB.push(f));
  const b = new FramedStream((f) => toA.push(f));
  const flush = () => {
    while (toA.length || toB.length) {
      for (const f of toB.splice(0)) b.receive(f);
      for (const f of toA.splice(0)) a.receive(f);
    }
  };
  return { a, b, toA, toB, flush };
}

describe('a framed stream', () => {
  it('keeps bytes that came before anyone listened, and acknowledges them only once read', () => {
    const { a, b, toA, toB, flush } = pair();
    a.write(new TextEncoder().encode('early'));
    for (const f of toB.splice(0)) b.receive(f);
    expect(toA).toEqual([]);
    const got: string[] = [];
    b.onData((bytes) => got.push(new TextDecoder().decode(bytes)));
    expect(got).toEqual(['early']);
    expect(toA).toEqual([{ kind: 'ack', bytes: 5 }]);
    flush();
  });

  it('sends no more than a window before the reader acknowledges, then drains', () => {
    const { a, b, toB, flush } = pair();
    const drains: number[] = [];
    a.onDrain(() => drains.push(1));
    expect(a.write(new Uint8Array(STREAM_WINDOW + 1000))).toBe(false);
    const inFlight = toB.reduce((n, f) => n + (f.kind === 'data' ? f.bytes.length : 0), 0);
    expect(inFlight).toBeLessThanOrEqual(STREAM_WINDOW);
    let read = 0;
    b.onData((bytes) => (read += bytes.length));
    flush();
    expect(read).toBe(STREAM_WINDOW + 1000);
    expect(drains).toEqual([1]);
  });

  it('holds its acknowledgements while paused, so the writer stops within one window', () => {
    const { a, b, flush } = pair();
    let read = 0;
    b.onData((bytes) => (read += bytes.length));
    b.pause();
    a.write(new Uint8Array(3 * STREAM_WINDOW));
    flush();
    expect(read).toBe(STREAM_WINDOW);
    b.resume();
    flush();
    expect(read).toBe(3 * STREAM_WINDOW);
  });

  it('ends both sides with reason error when the peer breaks the protocol', () => {
    const ends: StreamEnd[] = [];
    const sent: StreamFrame[] = [];
    const s = new FramedStream((f) => sent.push(f));
    s.onClose((e) => ends.push(e));
    s.receive({ kind: 'ack', bytes: 10 });
    expect(ends).toEqual([{ reason: 'error', message: 'The other side broke the stream protocol: it acknowledged 10 bytes while 0 were in flight.' }]);
    expect(sent).toEqual([{ kind: 'close', reason: 'error', message: ends[0]!.message }]);
    const t = new FramedStream(() => {});
    t.onData(() => {});
    t.pause();
    t.receive({ kind: 'data', bytes: new Uint8Array(STREAM_WINDOW) });
    t.receive({ kind: 'data', bytes: new Uint8Array(1) });
    expect(t.ended).toMatchObject({ reason: 'error', message: expect.stringContaining('sent more than the 262144-byte window') });
  });

  it('refuses writes once ended, saying why it ended', () => {
    const { a, b, flush } = pair();
    b.close({ reason: 'box-stopped', message: 'The box stopped.' });
    flush();
    expect(a.ended).toEqual({ reason: 'box-stopped', message: 'The box stopped.' });
    expect(() => a.write(new Uint8Array(1))).toThrow('The stream is closed: The box stopped.');
  });

  it('joined to an engine stream, carries bytes both ways and the end with its reason', () => {
    const { a, b, flush } = pair();
    const typed: number[] = [];
    const engine = new LocalStream({ write: (bytes) => (typed.push(...bytes), true), setPaused: () => {}, closed: () => {} });
    joinStreams(engine, a);
    const seen: number[] = [];
    b.onData((bytes) => seen.push(...bytes));
    engine.push(new Uint8Array([1, 2]));
    b.write(new Uint8Array([3]));
    flush();
    expect(seen).toEqual([1, 2]);
    expect(typed).toEqual([3]);
    engine.end({ reason: 'box-stopped', message: 'The box stopped.' });
    flush();
    expect(b.ended).toEqual({ reason: 'box-stopped', message: 'The box stopped.' });
  });
  it('joined to an engine stream that ends closed, delivers every byte written before the end, then the end', () => {
    const { a, b, flush } = pair();
    const engine = new LocalStream({ write: () => true, setPaused: () => {}, closed: () => {} });
    joinStreams(engine, a);
    // Three windows at once, then the end: the framed side still queues two of them.
    engine.push(new Uint8Array(3 * STREAM_WINDOW).fill(7));
    engine.end({ reason: 'closed', message: 'All sent.' });
    let seen = 0;
    b.onData((bytes) => (seen += bytes.length));
    flush();
    expect(seen).toBe(3 * STREAM_WINDOW);
    expect(b.ended).toEqual({ reason: 'closed', message: 'All sent.' });
    expect(() => a.write(new Uint8Array(1))).toThrow('The stream is closed');
  });

  it('ended with an error, the end goes at once and what still waits is dropped', () => {
    const { a, b, flush } = pair();
    const engine = new LocalStream({ write: () => true, setPaused: () => {}, closed: () => {} });
    joinStreams(engine, a);
    engine.push(new Uint8Array(3 * STREAM_WINDOW));
    engine.end({ reason: 'error', message: 'Broken.' });
    let seen = 0;
    b.onData((bytes) => (seen += bytes.length));
    flush();
    expect(b.ended).toEqual({ reason: 'error', message: 'Broken.' });
    expect(seen).toBeLessThanOrEqual(STREAM_WINDOW);
  });
});
