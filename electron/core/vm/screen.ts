// Pictures of a box's screen through QMP `screendump`: QEMU writes a PNG file (format png,
// QEMU 7.1 on), here into the box's run folder (private to this user), which is read back,
// checked and removed. Used by boxes:screenshot (one message), displays:screenshot (a stream,
// any size up to MAX_SCREENSHOT_STREAM_BYTES) and by live snapshots (their small picture).
import fs from 'node:fs';
import path from 'node:path';
import { BoxkeepError, vmError } from '../../../shared/errors.js';
import { openRegularFile } from '../fsutil.js';
import { newId } from '../ids.js';
import { pngSize, type PngSize } from './png.js';
import type { QmpClient } from './qmp.js';

/**
 * The largest screenshot handed out in one result (boxes:screenshot): its base64 must fit one
 * message of the transports (shared/wire.ts, 1 MB) with room for the envelope. A text console
 * or a desktop of flat colours is far below; a large photo wallpaper may not be, and goes as
 * a stream (displays:screenshot) instead.
 */
export const MAX_SCREENSHOT_BYTES = 720_000;

/**
 * The largest screendump a snapshot picture is made from: it is shrunk to a few KB before it
 * goes anywhere, so only memory bounds it. A 1080p desktop with a photo makes a PNG of a few
 * MB; the largest screen decodePng() takes (vm/png.ts, 8 Mi pixels) at most ~25 MB.
 */
export const MAX_PICTURE_SOURCE_BYTES = 32 * 1024 * 1024;

/**
 * The largest screenshot streamed whole (displays:screenshot): a stream is carried in windows
 * of 256 KiB whatever its length, so only a bound on what a guest can make us send is needed.
 * A 4K screen of noise (the most decodePng() takes, 8 Mi pixels) makes a PNG of ~25 MB.
 */
export const MAX_SCREENSHOT_STREAM_BYTES = 64 * 1024 * 1024;

export interface ScreenDump extends PngSize {
  png: Buffer;
}

/** A screendump still on its open descriptor (its file already removed), checked to be a PNG. */
export interface OpenScreenDump extends PngSize {
  fd: number;
  size: number;
}

/**
 * One screendump, read whole. The file gets a fresh name, so two at once never read each
 * other's; it is removed whatever happens (a crash in between leaves a `.screendump-*.png` in
 * the run folder, which the next start clears with the folder's sockets, see spawnQemu).
 */
export async function screendump(qmp: QmpClient, runDir: string, label: string, maxBytes = MAX_SCREENSHOT_BYTES, advice = LOWER_RESOLUTION): Promise<ScreenDump> {
  const dump = await openScreendump(qmp, runDir, label, maxBytes, advice);
  try {
    const png = Buffer.alloc(dump.size);
    readFully(dump.fd, png, label);
    return { png, width: dump.width, height: dump.height };
  } finally {
    fs.closeSync(dump.fd);
  }
}

/**
 * One screendump, left open for the caller to stream (it closes `fd`). The file is opened as
 * the regular file QEMU wrote in the run folder (O_NOFOLLOW, no FIFO) and removed at once:
 * nothing of it is left in the folder while, or after, it is read.
 */
export async function openScreendump(qmp: QmpClient, runDir: string, label: string, maxBytes: number, advice = LOWER_RESOLUTION): Promise<OpenScreenDump> {
  const file = path.join(runDir, `${SCREENDUMP_PREFIX}${newId()}.png`);
  let fd: number | null = null;
  try {
    await qmp.execute('screendump', { filename: file, format: 'png' }, { timeoutMs: 10_000 }).catch((err: unknown) => {
      // QMP's own words ("screendump failed: QEMU closed the QMP connection") say nothing of the box.
      if (qmp.closed) throw vmError(`Could not take a screenshot of ${label}: it stopped (or its QEMU went away) meanwhile.`, err);
      throw err;
    });
    const opened = openRegularFile(file, Number.MAX_SAFE_INTEGER);
    if ('what' in opened) throw vmError(`QEMU's screendump of ${label} is ${opened.what}, not a file.`);
    fd = opened.fd;
    if (opened.size > maxBytes) {
      throw vmError(`The screen of ${label} makes a PNG of ${opened.size} bytes, more than the ${maxBytes} bytes a screenshot may have; ${advice}.`);
    }
    const head = Buffer.alloc(Math.min(opened.size, 33));
    readFully(fd, head, label);
    const dims = pngSize(head);
    if (!dims) throw vmError(`QEMU's screendump of ${label} is not a PNG image.`);
    const dump = { fd, size: opened.size, ...dims };
    fd = null;
    return dump;
  } catch (err) {
    if (err instanceof BoxkeepError) throw err;
    throw vmError(`Could not take a screenshot of ${label}: ${(err as Error).message}`, err);
  } finally {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

/** Fills `buf` from the start of the file; a file shorter than it said is an error. */
function readFully(fd: number, buf: Buffer, label: string): void {
  for (let off = 0; off < buf.length; ) {
    const n = fs.readSync(fd, buf, off, buf.length - off, off);
    if (n === 0) throw vmError(`QEMU's screendump of ${label} ended after ${off} bytes.`);
    off += n;
  }
}

export const SCREENDUMP_PREFIX = '.screendump-';
const LOWER_RESOLUTION = "lower the guest's resolution or colour depth";
