// Pictures of a box's screen through QMP `screendump`: QEMU writes a PNG file (format png,
// QEMU 7.1 on), here into the box's run folder (private to this user), which is read back,
// checked and removed. Used by boxes:screenshot and by live snapshots (their small picture).
import fs from 'node:fs';
import path from 'node:path';
import { BoxkeepError, vmError } from '../../../shared/errors.js';
import { newId } from '../ids.js';
import { pngSize, type PngSize } from './png.js';
import type { QmpClient } from './qmp.js';

/**
 * The largest screenshot handed out: its base64 must fit one message of the transports
 * (shared/wire.ts, 1 MB) with room for the envelope. A text console or a desktop of flat
 * colours is far below; a large photo wallpaper may not be.
 */
export const MAX_SCREENSHOT_BYTES = 720_000;

/**
 * The largest screendump a snapshot picture is made from: it is shrunk to a few KB before it
 * goes anywhere, so only memory bounds it. A 1080p desktop with a photo makes a PNG of a few
 * MB; the largest screen decodePng() takes (vm/png.ts, 8 Mi pixels) at most ~25 MB.
 */
export const MAX_PICTURE_SOURCE_BYTES = 32 * 1024 * 1024;

export interface ScreenDump extends PngSize {
  png: Buffer;
}

/**
 * One screendump. The file gets a fresh name, so two at once never read each other's; it is
 * removed whatever happens (a crash in between leaves a `.screendump-*.png` in the run folder,
 * which the next start clears with the folder's sockets, see spawnQemu).
 */
export async function screendump(qmp: QmpClient, runDir: string, label: string, maxBytes = MAX_SCREENSHOT_BYTES): Promise<ScreenDump> {
  const file = path.join(runDir, `${SCREENDUMP_PREFIX}${newId()}.png`);
  try {
    await qmp.execute('screendump', { filename: file, format: 'png' }, { timeoutMs: 10_000 }).catch((err: unknown) => {
      // QMP's own words ("screendump failed: QEMU closed the QMP connection") say nothing of the box.
      if (qmp.closed) throw vmError(`Could not take a screenshot of ${label}: it stopped (or its QEMU went away) meanwhile.`, err);
      throw err;
    });
    const handle = fs.openSync(file, 'r');
    let png: Buffer;
    try {
      const size = fs.fstatSync(handle).size;
      if (size > maxBytes) {
        throw vmError(`The screen of ${label} makes a PNG of ${size} bytes, more than the ${maxBytes} bytes a screenshot may have; lower the guest's resolution or colour depth.`);
      }
      png = Buffer.alloc(size);
      fs.readSync(handle, png, 0, size, 0);
    } finally {
      fs.closeSync(handle);
    }
    const dims = pngSize(png);
    if (!dims) throw vmError(`QEMU's screendump of ${label} is not a PNG image.`);
    return { png, ...dims };
  } catch (err) {
    if (err instanceof BoxkeepError) throw err;
    throw vmError(`Could not take a screenshot of ${label}: ${(err as Error).message}`, err);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

export const SCREENDUMP_PREFIX = '.screendump-';
