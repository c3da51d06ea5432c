// Just enough PNG for screen pictures: check what QEMU's screendump wrote, read it (8-bit RGB
// or RGBA, not interlaced: what QEMU 7.2 writes), shrink it, and write a small one back.
// node:zlib does the compression; the chunk layout, filters and CRCs are here.
import { zlib } from '../builtins.js';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngSize {
  width: number;
  height: number;
}

/** The size from the IHDR chunk, or null when `bytes` does not start like a PNG (a 13-byte IHDR, sizes 1 to 2^31 - 1). */
export function pngSize(bytes: Uint8Array): PngSize | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 33 || !b.subarray(0, 8).equals(PNG_SIGNATURE) || b.readUInt32BE(8) !== 13 || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const valid = (n: number) => n > 0 && n <= 0x7fffffff;
  return valid(width) && valid(height) ? { width, height } : null;
}

export interface RgbImage extends PngSize {
  /** width × height × 3 bytes, row by row. */
  rgb: Buffer;
}

/**
 * Largest picture decodePng() takes apart (pixels): a 4K screen (3840 × 2160) fits, and QEMU's
 * standard VGA (16 MiB of video memory) shows at most 4 Mi pixels at 32 bits a pixel. Checked
 * before anything is inflated: a few hundred KB of deflate can claim gigabytes of pixels, and
 * decoding holds the inflated rows, the unfiltered ones and the RGB copy at once (~11 bytes a pixel).
 */
export const MAX_PIXELS = 8 * 1024 * 1024;

/** Reads an 8-bit RGB or RGBA, non-interlaced PNG; throws on anything else. */
export function decodePng(bytes: Uint8Array): RgbImage {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = pngSize(b);
  if (!size) throw new Error('not a PNG');
  const depth = b[24];
  const colour = b[25];
  const interlace = b[28];
  if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0 || b[26] !== 0 || b[27] !== 0) {
    throw new Error(`unsupported PNG (bit depth ${depth}, colour type ${colour}, interlace ${interlace}, compression ${b[26]}, filter method ${b[27]})`);
  }
  if (size.width * size.height > MAX_PIXELS) throw new Error(`PNG of ${size.width}×${size.height} is too large (more than ${MAX_PIXELS} pixels)`);
  const idat: Buffer[] = [];
  for (let at = 8; at + 12 <= b.length;) {
    const length = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    if (at + 12 + length > b.length) throw new Error('truncated PNG');
    if (b.readUInt32BE(at + 8 + length) !== zlib().crc32(b.subarray(at + 4, at + 8 + length))) throw new Error(`damaged PNG (the checksum of its ${JSON.stringify(type)} chunk is wrong)`);
    if (type === 'IDAT') idat.push(b.subarray(at + 8, at + 8 + length));
    if (type === 'IEND') break;
    at += 12 + length;
  }
  const channels = colour === 6 ? 4 : 3;
  const stride = size.width * channels;
  const raw = zlib().inflateSync(Buffer.concat(idat), { maxOutputLength: (stride + 1) * size.height });
  if (raw.length !== (stride + 1) * size.height) throw new Error('PNG image data has the wrong length');
  const pixels = unfilter(raw, stride, size.height, channels);
  if (channels === 3) return { ...size, rgb: pixels };
  const rgb = Buffer.alloc(size.width * size.height * 3);
  for (let i = 0, o = 0; i < pixels.length; i += 4, o += 3) pixels.copy(rgb, o, i, i + 3);
  return { ...size, rgb };
}

/** Undoes the per-row filters (PNG spec, section 9). */
function unfilter(raw: Buffer, stride: number, height: number, bpp: number): Buffer {
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    const prev = y > 0 ? row - stride : -1;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp]! : 0;
      const up = prev >= 0 ? out[prev + x]! : 0;
      const c = prev >= 0 && x >= bpp ? out[prev + x - bpp]! : 0;
      let value = line[x]!;
      if (filter === 1) value += a;
      else if (filter === 2) value += up;
      else if (filter === 3) value += (a + up) >> 1;
      else if (filter === 4) value += paeth(a, up, c);
      else if (filter !== 0) throw new Error(`unknown PNG filter ${filter}`);
      out[row + x] = value & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Shrinks to at most `maxWidth` wide (keeping the aspect), each pixel the average of the box it covers. */
export function shrink(image: RgbImage, maxWidth: number): RgbImage {
  if (image.width <= maxWidth) return image;
  const width = maxWidth;
  const height = Math.max(1, Math.round((image.height * width) / image.width));
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor((y * image.height) / height);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * image.height) / height));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor((x * image.width) / width);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * image.width) / width));
      let r = 0, g = 0, b = 0;
      for (let sy = y0; sy < y1; sy++) {
        for (let sx = x0; sx < x1; sx++) {
          const i = (sy * image.width + sx) * 3;
          r += image.rgb[i]!;
          g += image.rgb[i + 1]!;
          b += image.rgb[i + 2]!;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 3;
      rgb[o] = Math.round(r / n);
      rgb[o + 1] = Math.round(g / n);
      rgb[o + 2] = Math.round(b / n);
    }
  }
  return { width, height, rgb };
}

/** An 8-bit RGB PNG, every row filtered with Sub (small for screens: long runs of one colour). */
export function encodePng(image: RgbImage): Buffer {
  const stride = image.width * 3;
  const raw = Buffer.alloc((stride + 1) * image.height);
  for (let y = 0; y < image.height; y++) {
    const at = y * (stride + 1);
    raw[at] = 1;
    for (let x = 0; x < stride; x++) {
      const left = x >= 3 ? image.rgb[y * stride + x - 3]! : 0;
      raw[at + 1 + x] = (image.rgb[y * stride + x]! - left) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(image.width, 0);
  ihdr.writeUInt32BE(image.height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', zlib().deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib().crc32(data, zlib().crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}
