// Saving a picture where the user asked (electron/cli/png-file.ts), in a folder others may
// write to, such as /tmp: the partial file beside the target is made new, never written through
// a link someone put at its name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { savePng, savePngStream } from '../../electron/cli/png-file.js';
import { MAX_SCREENSHOT_STREAM_BYTES } from '../../electron/core/vm/screen.js';
import { LocalStream, type StreamEnd } from '../../shared/streams.js';
import { encodePng } from '../../electron/core/vm/png.js';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bkpng-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const picture = () => {
  const png = encodePng({ width: 4, height: 2, rgb: Buffer.alloc(24, 9) });
  return { width: 4, height: 2, png: png.toString('base64'), bytes: png };
};

describe('savePng', () => {
  it('writes the picture, and not through a link planted at the name of its partial file', () => {
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'precious');
    const target = path.join(dir, 'shot.png');
    fs.symlinkSync(victim, path.join(dir, `.shot.png.${process.pid}.partial`));
    const p = picture();
    expect(savePng(target, p)).toBe(p.bytes.length);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.lstatSync(target).isFile()).toBe(true);
    expect(fs.readFileSync(target)).toEqual(p.bytes);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.partial') && !fs.lstatSync(path.join(dir, n)).isSymbolicLink())).toEqual([]);
  });
});

/** A stream that sends `pieces` once read, then ends with `end` (null: stays open). */
function source(pieces: Uint8Array[], end: StreamEnd | null) {
  const closed: StreamEnd[] = [];
  const s: LocalStream = new LocalStream({
    write: () => true, setPaused: () => {}, closed: (e) => void closed.push(e),
    listening: () => setImmediate(() => {
      for (const p of pieces) s.push(p);
      if (end) s.end(end);
    }),
  });
  return { open: async () => s, closed };
}

describe('savePngStream', () => {
  const done: StreamEnd = { reason: 'closed', message: 'All sent.' };
  const partials = () => fs.readdirSync(dir).filter((n) => n.includes('partial'));

  it('writes the pieces as they come and renames the whole PNG over the target', async () => {
    const target = path.join(dir, 'shot.png');
    fs.writeFileSync(target, 'old');
    const { bytes } = picture();
    const r = await savePngStream(target, source([bytes.subarray(0, 20), bytes.subarray(20)], done).open, 'the box "b"');
    expect(r).toEqual({ width: 4, height: 2, bytes: bytes.length });
    expect(fs.readFileSync(target)).toEqual(bytes);
    expect(partials()).toEqual([]);
  });

  it('keeps the old file and no partial when the stream ends with an error, is cut short, or sends too much', async () => {
    const target = path.join(dir, 'shot.png');
    fs.writeFileSync(target, 'old');
    const { bytes } = picture();
    await expect(savePngStream(target, source([bytes], { reason: 'error', message: 'QEMU went away.' }).open, 'the box "b"')).rejects.toMatchObject({ code: 'Vm', message: 'The screenshot of the box "b" was not saved: QEMU went away.' });
    await expect(savePngStream(target, source([bytes.subarray(0, bytes.length - 4)], done).open, 'the box "b"')).rejects.toMatchObject({ code: 'Vm', message: `The screenshot of the box "b" came incomplete (${bytes.length - 4} bytes, not a whole PNG); it was not saved. Try again.` });
    // Past the bound the command stops reading and closes the stream (the sender would go on).
    const big = source([bytes, new Uint8Array(MAX_SCREENSHOT_STREAM_BYTES)], null);
    await expect(savePngStream(target, big.open, 'the box "b"')).rejects.toMatchObject({ code: 'Vm', message: expect.stringContaining(`larger than ${MAX_SCREENSHOT_STREAM_BYTES} bytes`) });
    expect(big.closed).toEqual([{ reason: 'error', message: 'The screenshot was not saved.' }]);
    expect(fs.readFileSync(target, 'utf8')).toBe('old');
    expect(partials()).toEqual([]);
  });

  it('a refused open leaves nothing behind', async () => {
    const target = path.join(dir, 'shot.png');
    await expect(savePngStream(target, async () => { throw Object.assign(new Error('no'), { code: 'x' }); }, 'the box "b"')).rejects.toMatchObject({ code: 'Storage' });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
