// Streams on the connection-based transports (the WebSocket and the control socket), beside
// the invoke/result/event messages of shared/wire.ts. Many streams share one connection, told
// apart by a stream id the client picks. Control messages are JSON (a WebSocket text frame, a
// line on the control socket):
//
//   client → host   {type:'stream-open', stream, channel, input}
//   host → client   {type:'stream-opened', stream} | {type:'stream-refused', stream, error:{code,message}}
//   either way      {type:'stream-ack', stream, bytes}      bytes the receiver's reader has taken
//                   {type:'stream-close', stream, reason, message}
//                   {type:'stream-data', stream, data}      base64 (the control socket only)
//
// On the WebSocket, data goes as binary frames instead: byte 0 is DATA_FRAME (1), bytes 1-4
// the stream id (unsigned, big-endian), the rest the payload.
import { BoxkeepError, isWireError, type WireError } from './errors.js';
import { CLOSE_REASONS, FramedStream, type ByteStream, type CloseReason, type StreamEnd, type StreamFrame } from './streams.js';

export type StreamMessage =
  | { type: 'stream-open'; stream: number; channel: string; input: unknown }
  | { type: 'stream-opened'; stream: number }
  | { type: 'stream-refused'; stream: number; error: WireError }
  | { type: 'stream-ack'; stream: number; bytes: number }
  | { type: 'stream-close'; stream: number; reason: CloseReason; message: string }
  | { type: 'stream-data'; stream: number; data: string };

export const DATA_FRAME = 1;
const HEADER = 5;
/** Stream ids fit the binary header's four bytes; 0 is never used. */
export const MAX_STREAM_ID = 0xffff_ffff;
/** Streams one connection may hold open at once. */
export const MAX_STREAMS_PER_CONNECTION = 64;
const MAX_CLOSE_MESSAGE = 2000;

export function isStreamMessageType(type: unknown): boolean {
  return typeof type === 'string' && type.startsWith('stream-');
}

/** A stream message checked field by field; anything else yields why (and the stream id, when it could be read). */
export function parseStreamMessage(value: Record<string, unknown>): { ok: true; message: StreamMessage } | { ok: false; reason: string; stream: number | null } {
  const stream = typeof value.stream === 'number' && Number.isInteger(value.stream) && value.stream > 0 && value.stream <= MAX_STREAM_ID ? value.stream : null;
  const bad = (reason: string) => ({ ok: false as const, reason, stream });
  if (stream === null) return bad(`A ${String(value.type).slice(0, 30)} message needs a stream id: a whole number from 1 to ${MAX_STREAM_ID}.`);
  switch (value.type) {
    case 'stream-open':
      if (typeof value.channel !== 'string') return bad('A stream-open message needs a channel name.');
      return { ok: true, message: { type: 'stream-open', stream, channel: value.channel, input: value.input } };
    case 'stream-opened':
      return { ok: true, message: { type: 'stream-opened', stream } };
    case 'stream-refused':
      if (!isWireError(value.error)) return bad('A stream-refused message needs an error {code, message}.');
      return { ok: true, message: { type: 'stream-refused', stream, error: value.error } };
    case 'stream-ack':
      if (typeof value.bytes !== 'number' || !Number.isSafeInteger(value.bytes) || value.bytes <= 0) return bad('A stream-ack message needs bytes: a whole number above 0.');
      return { ok: true, message: { type: 'stream-ack', stream, bytes: value.bytes } };
    case 'stream-close': {
      const reason = (CLOSE_REASONS as unknown[]).includes(value.reason) ? (value.reason as CloseReason) : null;
      if (!reason) return bad(`A stream-close message needs a reason: one of ${CLOSE_REASONS.join(', ')}.`);
      const message = typeof value.message === 'string' ? value.message.slice(0, MAX_CLOSE_MESSAGE) : '';
      return { ok: true, message: { type: 'stream-close', stream, reason, message } };
    }
    case 'stream-data':
      if (typeof value.data !== 'string' || !isBase64(value.data)) return bad('A stream-data message needs data: the bytes in base64.');
      return { ok: true, message: { type: 'stream-data', stream, data: value.data } };
    default:
      return bad(`Unknown stream message type ${JSON.stringify(String(value.type).slice(0, 30))}.`);
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
function isBase64(text: string): boolean {
  return BASE64.test(text);
}

export function encodeDataFrame(stream: number, bytes: Uint8Array): Uint8Array {
  const frame = new Uint8Array(HEADER + bytes.length);
  frame[0] = DATA_FRAME;
  new DataView(frame.buffer).setUint32(1, stream);
  frame.set(bytes, HEADER);
  return frame;
}

export function decodeDataFrame(frame: Uint8Array): { ok: true; stream: number; bytes: Uint8Array } | { ok: false; reason: string } {
  if (frame.length < HEADER) return { ok: false, reason: `A binary frame needs a ${HEADER}-byte header (kind, stream id); this one has ${frame.length} bytes.` };
  if (frame[0] !== DATA_FRAME) return { ok: false, reason: `Unknown binary frame kind ${frame[0]}; only data frames (kind ${DATA_FRAME}) are binary.` };
  const stream = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(1);
  if (stream === 0) return { ok: false, reason: 'A binary frame names stream 0, which is never open.' };
  return { ok: true, stream, bytes: frame.subarray(HEADER) };
}

/** How one connection moves a stream's data: binary frames where it can, base64 in JSON where not. */
export interface StreamCarrier {
  sendMessage(message: StreamMessage): void;
  sendData(stream: number, bytes: Uint8Array): void;
}

/** A carrier that has only JSON messages (the control socket). */
export function jsonCarrier(sendMessage: (message: StreamMessage) => void): StreamCarrier {
  return { sendMessage, sendData: (stream, bytes) => sendMessage({ type: 'stream-data', stream, data: toBase64(bytes) }) };
}

/** The streams open on one connection, by id, on either end: frames in, frames out. */
export class StreamTable {
  readonly streams = new Map<number, FramedStream>();

  constructor(private readonly carrier: StreamCarrier) {}

  /** A stream with this id, its frames going out through the carrier; forgotten once it ends. */
  create(stream: number): FramedStream {
    const framed = new FramedStream((frame) => this.send(stream, frame));
    this.streams.set(stream, framed);
    framed.onClose(() => this.streams.delete(stream));
    return framed;
  }

  /** Data, ack or close for a stream; false when no such stream is open here. */
  receive(message: StreamMessage): boolean {
    const framed = this.streams.get(message.stream);
    if (!framed) return false;
    if (message.type === 'stream-ack') framed.receive({ kind: 'ack', bytes: message.bytes });
    else if (message.type === 'stream-close') framed.receive({ kind: 'close', reason: message.reason, message: message.message });
    else if (message.type === 'stream-data') framed.receive({ kind: 'data', bytes: fromBase64(message.data) });
    return true;
  }

  receiveData(stream: number, bytes: Uint8Array): boolean {
    const framed = this.streams.get(stream);
    if (!framed) return false;
    framed.receive({ kind: 'data', bytes });
    return true;
  }

  /** The connection is gone: every stream on it ends with `end`. */
  dropAll(end: StreamEnd): void {
    for (const framed of [...this.streams.values()]) framed.drop(end);
    this.streams.clear();
  }

  private send(stream: number, frame: StreamFrame) {
    if (frame.kind === 'data') this.carrier.sendData(stream, frame.bytes);
    else if (frame.kind === 'ack') this.carrier.sendMessage({ type: 'stream-ack', stream, bytes: frame.bytes });
    else this.carrier.sendMessage({ type: 'stream-close', stream, reason: frame.reason, message: frame.message });
  }
}

/**
 * The client end of a connection's streams: opens them (ids counted from 1) and routes what the
 * host sends back. Used by the renderer's WebSocket and the CLI's control socket alike.
 */
export class StreamClient {
  private readonly table: StreamTable;
  private readonly opening = new Map<number, { resolve(stream: ByteStream): void; reject(err: BoxkeepError): void }>();
  private nextId = 1;

  constructor(private readonly carrier: StreamCarrier) {
    this.table = new StreamTable(carrier);
  }

  open(channel: string, input: unknown): Promise<ByteStream> {
    const stream = this.nextId++;
    return new Promise((resolve, reject) => {
      this.opening.set(stream, { resolve, reject });
      this.carrier.sendMessage({ type: 'stream-open', stream, channel, input });
    });
  }

  /** A JSON stream message from the host. */
  receive(message: StreamMessage): void {
    const waiting = this.opening.get(message.stream);
    if (waiting && (message.type === 'stream-opened' || message.type === 'stream-refused')) {
      this.opening.delete(message.stream);
      if (message.type === 'stream-refused') waiting.reject(BoxkeepError.fromWire(message.error));
      else waiting.resolve(this.table.create(message.stream));
      return;
    }
    this.table.receive(message);
  }

  receiveData(stream: number, bytes: Uint8Array): void {
    this.table.receiveData(stream, bytes);
  }

  /** The connection dropped: opens in flight fail, open streams end with reason 'error'. */
  dropAll(message: string): void {
    for (const waiting of this.opening.values()) waiting.reject(new BoxkeepError('InvalidState', message));
    this.opening.clear();
    this.table.dropAll({ reason: 'error', message });
  }
}

export function toBase64(bytes: Uint8Array): string {
  const B = (globalThis as { Buffer?: { from(b: Uint8Array): { toString(enc: string): string } } }).Buffer;
  if (B) return B.from(bytes).toString('base64');
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export function fromBase64(text: string): Uint8Array {
  const B = (globalThis as { Buffer?: { from(s: string, enc: string): Uint8Array } }).Buffer;
  if (B) return new Uint8Array(B.from(text, 'base64'));
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
