// A small ustar writer and a strict reader for .boxkeep archives. The reader takes untrusted
// bytes: it accepts only what the writer makes (regular-file members with plain names, POSIX
// ustar headers, checksums right) and refuses everything else by name, so no member can name
// a path, a link or a device, and no length taken from the archive allocates memory (data is
// handed on in the chunks it arrives in). Not GNU tar or pax: nothing here needs long names.
import { BoxkeepError } from '../../../shared/errors.js';

export const BLOCK = 512;
/** Plain names only: no folder, no "..", no leading dot or dash, at most 100 bytes (ustar's name field). */
export const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** The largest size in 11 octal digits; larger members get GNU's base-256 size field. */
const OCTAL_MAX = 0o77777777777;

/**
 * The one way an archive is refused: InvalidArgument, saying what is wrong and that nothing was
 * imported. The message quotes the archive's own bytes (names, a backing path), and the CLI
 * prints it as it is: C0 and C1 controls (JSON.stringify leaves U+0080..U+009F, CSI among them)
 * become "?" so a hostile name cannot drive the terminal.
 */
export const archiveError = (message: string) =>
  new BoxkeepError('InvalidArgument', `The archive is not a valid Boxkeep archive: ${message.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')}. Nothing was imported.`);

/** The 512-byte header of a regular file. */
export function memberHeader(name: string, size: number, mtimeSec: number): Buffer {
  if (!MEMBER_NAME.test(name)) throw new Error(`tar: bad member name ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 'ascii');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  writeSize(h, size);
  h.write(`${Math.max(0, Math.floor(mtimeSec)).toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.fill(0x20, 148, 156);
  h.write(`${checksum(h).toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** Zero bytes that fill a member of `size` bytes to a whole block. */
export const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
/** Two zero blocks end an archive. */
export const trailer = () => Buffer.alloc(2 * BLOCK);

function writeSize(h: Buffer, size: number): void {
  if (size <= OCTAL_MAX) {
    h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    return;
  }
  // GNU base-256: the high bit of the first byte set, the number big-endian in the 12 bytes.
  const field = Buffer.alloc(12);
  let n = BigInt(size);
  for (let i = 11; i >= 1; i--, n >>= 8n) field[i] = Number(n & 0xffn);
  field[0] = 0x80;
  field.copy(h, 124);
}

function checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum;
}

/** Reads exactly what is asked from a stream of chunks, never buffering more than one chunk ahead. */
export class ByteReader {
  private pending: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed so far (for progress). */
  consumed = 0;
  private readonly it: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.it.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    this.pending = this.pending.length ? Buffer.concat([this.pending, next.value]) : next.value;
    return true;
  }

  /** Exactly n bytes (n small: a header), or an error saying the archive ends early. */
  async exact(n: number, what: string): Promise<Buffer> {
    while (this.pending.length < n) {
      if (!(await this.fill())) throw archiveError(`it ends in the middle of ${what} (truncated)`);
    }
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    this.consumed += n;
    return out;
  }

  /** n bytes handed on chunk by chunk as they arrive. */
  async *take(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.pending.length === 0 && !(await this.fill())) throw archiveError(`it ends in the middle of ${what} (truncated)`);
      const piece = this.pending.subarray(0, Math.min(left, this.pending.length));
      this.pending = this.pending.subarray(piece.length);
      left -= piece.length;
      this.consumed += piece.length;
      yield piece;
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

export interface Member {
  name: string;
  size: number;
}

/**
 * The next member's header, or null at the end of the archive (two zero blocks). Refuses any
 * header the writer would not make, saying what it is (a link, a folder, a path…).
 */
export async function nextMember(reader: ByteReader): Promise<Member | null> {
  const h = await reader.exact(BLOCK, 'a member header');
  if (h.every((b) => b === 0)) {
    const second = await reader.exact(BLOCK, 'the end-of-archive marker');
    if (!second.every((b) => b === 0)) throw archiveError('a zero block is followed by more data');
    return null;
  }
  const stored = parseOctal(h.subarray(148, 156));
  if (stored === null || stored !== checksum(h)) throw archiveError('a member header has a wrong checksum (the archive is damaged)');
  if (h.toString('latin1', 257, 263) !== 'ustar\0' || h.toString('latin1', 263, 265) !== '00') throw archiveError('a member header is not a POSIX ustar header');
  const name = cString(h.subarray(0, 100));
  const prefix = cString(h.subarray(345, 500));
  const shown = JSON.stringify((prefix ? `${prefix}/` : '') + name).slice(0, 120);
  const type = String.fromCharCode(h[156]!);
  if (type !== '0' && type !== '\0') throw archiveError(`the member ${shown} is ${TYPES[type] ?? `of tar type "${type}"`}; only regular files are accepted`);
  if (h[157] !== 0) throw archiveError(`the member ${shown} names a link target; only regular files are accepted`);
  if (prefix !== '') throw archiveError(`the member ${shown} has a path; only plain file names are accepted`);
  if (name.startsWith('/')) throw archiveError(`the member ${shown} has an absolute path; only plain file names are accepted`);
  if (name.includes('/') || name === '..' || name === '.') throw archiveError(`the member ${shown} has a path; only plain file names are accepted`);
  if (!MEMBER_NAME.test(name)) throw archiveError(`the member ${shown} does not have a plain file name (letters, digits, ".", "_", "-")`);
  const size = parseSize(h.subarray(124, 136));
  if (size === null) throw archiveError(`the member ${shown} has an unreadable size`);
  return { name, size };
}

/** Skips the zero padding after a member's data. */
export async function skipPadding(reader: ByteReader, size: number, name: string): Promise<void> {
  const pad = padding(size).length;
  if (pad > 0) await reader.exact(pad, `the padding of ${JSON.stringify(name)}`);
}

const TYPES: Record<string, string> = {
  '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '5': 'a folder', '6': 'a FIFO',
  '7': 'a contiguous file', 'x': 'a pax extended header', 'g': 'a pax global header', 'L': 'a GNU long name', 'K': 'a GNU long link name',
};

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.toString('latin1', 0, end < 0 ? field.length : end);
}

function parseOctal(field: Buffer): number | null {
  const text = cString(field).replace(/ +$/, '').replace(/^ +/, '');
  if (!/^[0-7]{1,11}$/.test(text)) return null;
  return parseInt(text, 8);
}

function parseSize(field: Buffer): number | null {
  if ((field[0]! & 0x80) === 0) return parseOctal(field);
  if (field[0] !== 0x80) return null; // negative or absurd
  let n = 0n;
  for (let i = 1; i < 12; i++) n = (n << 8n) | BigInt(field[i]!);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(n);
}
