// A minimal RFB (VNC) client over a ByteStream, for tests: the 3.8 handshake with security
// type None, ClientInit/ServerInit, key events and framebuffer update requests (RFC 6143).
import type { ByteStream } from '../../shared/streams.js';

export interface ServerInit {
  version: string;
  width: number;
  height: number;
  name: string;
}

export class RfbClient {
  private buffered = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  ended: string | null = null;

  constructor(readonly stream: ByteStream) {
    stream.onData((bytes) => {
      this.buffered = Buffer.concat([this.buffered, Buffer.from(bytes)]);
      this.wake?.();
    });
    stream.onClose((end) => {
      this.ended = `${end.reason}: ${end.message}`;
      this.wake?.();
    });
  }

  /** Exactly n bytes, in order. */
  async read(n: number, timeoutMs = 20_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered.length < n) {
      if (this.ended) throw new Error(`The stream ended (${this.ended}) with ${this.buffered.length} of ${n} bytes read`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Only ${this.buffered.length} of ${n} bytes came within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** Version, security type 1 (None), ClientInit; `shared` false asks for the screen alone. */
  async handshake(shared = true): Promise<ServerInit> {
    const version = (await this.read(12)).toString('latin1');
    if (version !== 'RFB 003.008\n') throw new Error(`Unexpected RFB version ${JSON.stringify(version)}`);
    this.stream.write(Buffer.from('RFB 003.008\n', 'latin1'));
    const count = (await this.read(1))[0]!;
    if (count === 0) throw new Error('The server refused the connection');
    const types = [...(await this.read(count))];
    if (!types.includes(1)) throw new Error(`No security type None among ${types.join(', ')}`);
    this.stream.write(Buffer.from([1]));
    const result = (await this.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`Security result ${result}`);
    this.stream.write(Buffer.from([shared ? 1 : 0]));
    const init = await this.read(24);
    const name = (await this.read(init.readUInt32BE(20))).toString('utf8');
    return { version, width: init.readUInt16BE(0), height: init.readUInt16BE(2), name };
  }

  /** A key pressed and released; `keysym` as X11 names them (Latin-1 characters are their own code). */
  key(keysym: number): void {
    const event = (down: boolean) => {
      const b = Buffer.alloc(8);
      b[0] = 4;
      b[1] = down ? 1 : 0;
      b.writeUInt32BE(keysym, 4);
      return b;
    };
    this.stream.write(Buffer.concat([event(true), event(false)]));
  }

  /** Asks for the whole screen; resolves with the message type of the answer's first byte (0: FramebufferUpdate). */
  async requestUpdate(width: number, height: number): Promise<number> {
    const b = Buffer.alloc(10);
    b[0] = 3;
    b[1] = 0;
    b.writeUInt16BE(width, 6);
    b.writeUInt16BE(height, 8);
    this.stream.write(b);
    return (await this.read(1))[0]!;
  }
}
