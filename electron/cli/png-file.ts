// Saving a picture the engine handed over (base64 PNG, or a stream of its bytes) where the user
// asked: written beside the target and renamed over it, so an interrupted command leaves the
// old file or the new one, never half a picture. The target's folder may be one others write
// to (/tmp): the partial file has a name nobody can guess and is made new ('wx'), so a link
// planted there is never written through.
import fs from 'node:fs';
import path from 'node:path';
import { BoxkeepError } from '../../shared/errors.js';
import type { ByteStream } from '../../shared/streams.js';
import { crypto } from '../core/builtins.js';
import { pngSize, type PngSize } from '../core/vm/png.js';
import { MAX_SCREENSHOT_STREAM_BYTES } from '../core/vm/screen.js';
import type { ScreenPicture } from '../../shared/types.js';

/** Writes the PNG to `file` (absolute); returns its size in bytes. */
export function savePng(file: string, picture: ScreenPicture): number {
  const bytes = Buffer.from(picture.png, 'base64');
  const partial = beginPartial(file);
  try {
    fs.writeSync(partial.fd, bytes);
    partial.commit();
  } catch (err) {
    throw partial.abandon(err);
  }
  return bytes.length;
}

/** The end of every PNG: the IEND chunk (length 0, type, CRC). A stream cut short lacks it. */
const IEND = Buffer.from('0000000049454e44ae426082', 'hex');

/**
 * Writes the PNG a stream carries (displays:screenshot, opened by `open` once the target is
 * known to be writable) to `file` as it comes, a piece at a time; renames it over `file` only
 * once the stream ended 'closed' with a whole PNG.
 */
export async function savePngStream(file: string, open: () => Promise<ByteStream>, label: string): Promise<PngSize & { bytes: number }> {
  const partial = beginPartial(file);
  let stream: ByteStream | null = null;
  let head = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  let bytes = 0;
  try {
    const s = (stream = await open());
    await new Promise<void>((resolve, reject) => {
      // Once failed, nothing more is written: the stream is closed as soon as the rejection is handled.
      let failed = false;
      const fail = (err: unknown) => {
        failed = true;
        reject(err);
      };
      s.onData((piece) => {
        if (s.ended || failed) return;
        bytes += piece.length;
        if (bytes > MAX_SCREENSHOT_STREAM_BYTES) return fail(new BoxkeepError('Vm', `The screenshot of ${label} is larger than ${MAX_SCREENSHOT_STREAM_BYTES} bytes; it was not saved.`));
        if (head.length < 33) head = Buffer.concat([head, piece]).subarray(0, 33);
        tail = Buffer.concat([tail, piece]).subarray(-IEND.length);
        try {
          fs.writeSync(partial.fd, piece);
        } catch (err) {
          fail(err);
        }
      });
      s.onClose((end) => {
        if (end.reason !== 'closed') return reject(new BoxkeepError('Vm', `The screenshot of ${label} was not saved: ${end.message}`));
        if (!pngSize(head) || !tail.equals(IEND)) return reject(new BoxkeepError('Vm', `The screenshot of ${label} came incomplete (${bytes} bytes, not a whole PNG); it was not saved. Try again.`));
        resolve();
      });
    });
    partial.commit();
  } catch (err) {
    if (stream && !stream.ended) stream.close({ reason: 'error', message: 'The screenshot was not saved.' });
    throw partial.abandon(err);
  }
  return { ...pngSize(head)!, bytes };
}

/** A new, unguessable file beside `file`, renamed over it by commit(); abandon() removes it and says what failed. */
function beginPartial(file: string): { fd: number; commit(): void; abandon(err: unknown): BoxkeepError } {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new BoxkeepError('InvalidArgument', `The folder ${dir} does not exist; give --output a file in an existing folder.`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new BoxkeepError('InvalidArgument', `${file} is a folder; give --output a file name such as ${path.join(file, 'screen.png')}.`);
  const partial = path.join(dir, `.${path.basename(file)}.${crypto().randomBytes(6).toString('hex')}.partial`);
  let fd: number | null = null;
  const close = () => {
    if (fd !== null) fs.closeSync(fd);
    fd = null;
  };
  try {
    fd = fs.openSync(partial, 'wx', 0o644);
  } catch (err) {
    throw new BoxkeepError('Storage', `Could not write ${file}: ${(err as Error).message}`);
  }
  return {
    fd,
    commit() {
      close();
      fs.renameSync(partial, file);
    },
    abandon(err) {
      close();
      fs.rmSync(partial, { force: true });
      return err instanceof BoxkeepError ? err : new BoxkeepError('Storage', `Could not write ${file}: ${(err as Error).message}`);
    },
  };
}
