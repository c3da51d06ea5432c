// The serial console log as people read it: the last lines, without terminal control codes.
// Logs grow for as long as a box runs (QEMU appends across boots), so reads start from the
// end and stop after a bounded number of bytes whatever the file size; and each start first
// cuts a log grown past LOG_LIMIT_BYTES down to its last LOG_KEEP_BYTES (trimLog).
import fs from 'node:fs';
import { QCOW2_MAGIC } from '../disk/qcow2.js';
import { openRegularFile, writeFileAtomic } from '../fsutil.js';

const CHUNK = 64 * 1024;
/** A console line longer than this is cut; it keeps a 100 MB log with no newline cheap. */
export const DEFAULT_MAX_TAIL_BYTES = 1024 * 1024;

export interface TailOptions {
  /** Read at most this many bytes from the end of the file. */
  maxBytes?: number;
}

/** The last lines of a log, and whether the last of them is still open. */
export interface LogTail {
  lines: string[];
  /** The last line has no newline yet (a prompt, or a line the guest is still writing). */
  open: boolean;
}

/**
 * The last `n` lines of a log, oldest first, with ANSI sequences and control characters
 * (except tab) removed. A missing file has no lines. An unterminated last line counts: it
 * is often the very prompt or panic the user needs to see.
 */
export async function tailLines(logFile: string, n: number, options: TailOptions = {}): Promise<string[]> {
  return (await tailLog(logFile, n, options)).lines;
}

/** tailLines, and whether the last line is open (a terminal seeded with it goes on on that line). */
export async function tailLog(logFile: string, n: number, options: TailOptions = {}): Promise<LogTail> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_TAIL_BYTES;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(logFile, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], open: false };
    throw err;
  }
  try {
    const size = (await handle.stat()).size;
    const floor = Math.max(0, size - maxBytes);
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    // n lines need n newlines in view besides the one that ends the file, if any.
    while (position > floor && (newlines <= n || chunks.length === 0)) {
      const length = Math.min(CHUNK, position - floor);
      position -= length;
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, position);
      const chunk = buf.subarray(0, bytesRead);
      for (const byte of chunk) if (byte === 0x0a) newlines++;
      chunks.unshift(chunk);
    }
    const data = Buffer.concat(chunks);
    // A read between a line's CR and its LF counts the line as ended: the cursor then starts
    // the next line at its start, where the LF coming after the CR puts it.
    const last = data[data.length - 1];
    const open = data.length > 0 && last !== 0x0a && last !== 0x0d;
    if (n <= 0) return { lines: [], open };
    const lines = data.toString('utf8').split('\n');
    // Unless we read from the very start, the first piece is the tail of an earlier line;
    // with no newline at all in view it is all there is of one huge line, cut.
    if (position > 0 && lines.length > 1) lines.shift();
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return { lines: lines.slice(-n).map(cleanLine), open };
  } finally {
    await handle.close();
  }
}

/** A log larger than this when the box starts is cut (trimLog). */
export const LOG_LIMIT_BYTES = 8 * 1024 * 1024;
/** What of it is kept: the end, from a line start; as much as a terminal starts with (DEFAULT_MAX_TAIL_BYTES). */
export const LOG_KEEP_BYTES = DEFAULT_MAX_TAIL_BYTES;

/**
 * Before a start (nothing writes the log then): a log past `limit` bytes keeps only its last
 * `keep` bytes, from the first line that starts in them, under a line saying how much went.
 * Replaced in one rename, so a reader sees the old log or the new. Returns the bytes removed.
 */
export function trimLog(file: string, limit = LOG_LIMIT_BYTES, keep = LOG_KEEP_BYTES): number {
  // Only the regular file at that very path (a FIFO there is not waited on, a link not followed).
  let opened: ReturnType<typeof openRegularFile>;
  try {
    opened = openRegularFile(file, Infinity);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  if ('what' in opened) return 0;
  const { fd, size } = opened;
  try {
    if (size <= limit) return 0;
    // A disk image put where the log belongs (a layer moved there) is never cut: the start's own
    // checks refuse it, and its data stays whole.
    const magic = Buffer.alloc(4);
    fs.readSync(fd, magic, 0, 4, 0);
    if (magic.readUInt32BE(0) === QCOW2_MAGIC) return 0;
    // One byte more than is kept: the byte before the part kept says whether it starts a line.
    const tail = Buffer.alloc(Math.min(keep + 1, size));
    const n = fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    const newline = tail.subarray(0, n).indexOf(0x0a);
    // No newline at all in the part kept: one huge line, kept cut.
    const kept = newline >= 0 ? tail.subarray(newline + 1, n) : tail.subarray(n - Math.min(keep, n), n);
    const removed = size - kept.length;
    writeFileAtomic(file, Buffer.concat([Buffer.from(`--- Boxkeep removed ${removed} bytes of earlier output from this log (it had grown past ${limit} bytes)\r\n`), kept]));
    return removed;
  } finally {
    fs.closeSync(fd);
  }
}

// CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), charset selection (ESC ( B) and the
// remaining two-byte escapes; then any control character but tab, C1 included.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]/g;
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]/g;

/**
 * A carriage return sends the cursor back to the line start, so progress counters rewrite
 * one line many times: keep what was written after the last one, as a terminal mostly shows.
 */
export function cleanLine(raw: string): string {
  let line = raw.replace(ANSI, '');
  const trimmed = line.replace(/\r+$/, '');
  const lastCr = trimmed.lastIndexOf('\r');
  line = lastCr >= 0 ? trimmed.slice(lastCr + 1) : trimmed;
  return line.replace(CONTROL, '');
}
