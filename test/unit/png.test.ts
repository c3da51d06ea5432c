// The PNG reader and writer behind snapshot pictures (electron/core/vm/png.ts).
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng, MAX_PIXELS, pngSize, shrink, type RgbImage } from '../../electron/core/vm/png.js';

function gradient(width: number, height: number): RgbImage {
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set([i % 251, (i * 7) % 256, (i >> 3) % 256], i * 3);
  return { width, height, rgb };
}

/** A PNG written by hand: one IHDR, the rows given (each with its filter byte), IEND; CRCs by zlib. */
function handMade(width: number, height: number, colour: number, rows: Buffer): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])));
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, colour, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

describe('png', () => {
  it('reads back exactly what it wrote, and the size from the header', () => {
    const image = gradient(37, 11);
    const png = encodePng(image);
    expect(pngSize(png)).toEqual({ width: 37, height: 11 });
    expect(decodePng(png)).toEqual(image);
  });

  it('undoes the Up, Average and Paeth filters and drops the alpha of RGBA', () => {
    // 2×2 RGBA. Row 0 unfiltered; row 1 Up (each byte + the one above).
    const up = handMade(2, 2, 6, Buffer.from([0, 10, 20, 30, 255, 40, 50, 60, 255, 2, 1, 1, 1, 0, 2, 2, 2, 0]));
    expect(decodePng(up).rgb).toEqual(Buffer.from([10, 20, 30, 40, 50, 60, 11, 21, 31, 42, 52, 62]));
    // 2×1 RGB, Average: second pixel = value + floor(left / 2); Paeth with no row above picks the left.
    expect(decodePng(handMade(2, 1, 2, Buffer.from([3, 100, 100, 100, 1, 2, 3]))).rgb).toEqual(Buffer.from([100, 100, 100, 51, 52, 53]));
    expect(decodePng(handMade(2, 1, 2, Buffer.from([4, 100, 100, 100, 1, 2, 3]))).rgb).toEqual(Buffer.from([100, 100, 100, 101, 102, 103]));
  });

  it('shrinks to the width asked, keeping the aspect, each pixel the average of what it covers', () => {
    const white = { width: 720, height: 400, rgb: Buffer.alloc(720 * 400 * 3, 255) };
    for (let x = 0; x < 720; x += 2) white.rgb.fill(0, x * 3, x * 3 + 3); // every other column black, row 0
    const small = shrink(white, 320);
    expect(small).toMatchObject({ width: 320, height: 178 });
    expect(small.rgb[3 * 320 * 100]).toBe(255);
    expect(shrink(white, 1000)).toBe(white);
  });

  it('refuses what is not a PNG it can read', () => {
    expect(pngSize(Buffer.from('GIF89a not a png at all, long enough to have a header'))).toBeNull();
    expect(() => decodePng(Buffer.alloc(40))).toThrow('not a PNG');
    expect(() => decodePng(handMade(1, 1, 3, Buffer.from([0, 0])))).toThrow(/unsupported PNG/);
    const truncated = encodePng(gradient(8, 8));
    expect(() => decodePng(truncated.subarray(0, truncated.length - 20))).toThrow();
  });

  it('refuses a PNG claiming more pixels than any screen before inflating it (a deflate bomb of a few KB)', () => {
    // 3000 × 3000 RGB of zeros: 27 MB of rows in ~26 KB of deflate.
    const bomb = handMade(3000, 3000, 2, Buffer.alloc((3000 * 3 + 1) * 3000));
    expect(bomb.length).toBeLessThan(100_000);
    expect(3000 * 3000).toBeGreaterThan(MAX_PIXELS);
    expect(() => decodePng(bomb)).toThrow(`PNG of 3000×3000 is too large (more than ${MAX_PIXELS} pixels)`);
  });

  it('refuses an IHDR of the wrong length, sizes past 2^31 - 1, unknown compression or filter methods, and a chunk whose checksum is wrong', () => {
    const good = encodePng(gradient(4, 4));
    const withIhdr = (at: number, bytes: number[]) => { const b = Buffer.from(good); b.set(bytes, at); return b; };
    expect(pngSize(withIhdr(8, [0, 0, 0, 12]))).toBeNull();
    expect(pngSize(withIhdr(16, [0x80, 0, 0, 0]))).toBeNull();
    expect(() => decodePng(withIhdr(26, [1]))).toThrow(/unsupported PNG .*compression 1/);
    expect(() => decodePng(withIhdr(27, [1]))).toThrow(/unsupported PNG .*filter method 1/);
    const badCrc = withIhdr(29, [good[29]! ^ 0xff]);
    expect(() => decodePng(badCrc)).toThrow('damaged PNG (the checksum of its "IHDR" chunk is wrong)');
  });
});
