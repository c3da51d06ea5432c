#!/usr/bin/env node
// Draws Boxkeep's icons with nothing but Node: a small rasterizer (4x4 supersampling) and a
// PNG encoder (zlib). Run `node assets/make-icons.mjs` to regenerate; the PNGs are committed.
//   icon.png            512x512 app icon (electron-builder derives .ico and .icns from it)
//   tray-dark.png       dark glyph for light panels   (+ @2x)
//   tray-light.png      light glyph for dark panels   (+ @2x)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));

// ---- PNG encoding

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
export function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const rows = Buffer.alloc(height * (1 + width * 4));
  for (let y = 0; y < height; y++) {
    rows[y * (1 + width * 4)] = 0; // filter: none
    rgba.copy(rows, y * (1 + width * 4) + 1, y * width * 4, (y + 1) * width * 4);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

// ---- drawing: shapes in a unit square, painted back to front

function insidePolygon(x, y, pts) {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i];
    const [xj, yj] = pts[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
function insideRoundedRect(x, y, [x0, y0, x1, y1], r) {
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return x >= x0 && x <= x1 && y >= y0 && y <= y1 && (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function render(size, shapes) {
  const rgba = Buffer.alloc(size * size * 4);
  const S = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const x = (px + (sx + 0.5) / S) / size;
          const y = (py + (sy + 0.5) / S) / size;
          // Composite the shapes covering this sample, "over", back to front.
          let cr = 0, cg = 0, cb = 0, ca = 0;
          for (const shape of shapes) {
            if (!shape.hit(x, y)) continue;
            const [sr, sg, sb, sa] = shape.color;
            cr = sr * sa + cr * (1 - sa);
            cg = sg * sa + cg * (1 - sa);
            cb = sb * sa + cb * (1 - sa);
            ca = sa + ca * (1 - sa);
          }
          r += cr; g += cg; b += cb; a += ca;
        }
      }
      const n = S * S;
      const i = (py * size + px) * 4;
      const alpha = a / n;
      // Premultiplied sums back to straight alpha.
      rgba[i] = alpha ? Math.round((r / n / alpha) * 255) : 0;
      rgba[i + 1] = alpha ? Math.round((g / n / alpha) * 255) : 0;
      rgba[i + 2] = alpha ? Math.round((b / n / alpha) * 255) : 0;
      rgba[i + 3] = Math.round(alpha * 255);
    }
  }
  return encodePng(size, size, rgba);
}

const hex = (h, alpha = 1) => [parseInt(h.slice(1, 3), 16) / 255, parseInt(h.slice(3, 5), 16) / 255, parseInt(h.slice(5, 7), 16) / 255, alpha];

/** An isometric box: top, left and right faces, centred on (cx, cy) with half-width w. */
function cube(cx, cy, w, [top, left, right]) {
  const h = w * 0.577; // tan 30°
  const T = [cx, cy - 2 * h], UR = [cx + w, cy - h], UL = [cx - w, cy - h], C = [cx, cy];
  const LR = [cx + w, cy + h * 1.6], LL = [cx - w, cy + h * 1.6], B = [cx, cy + h * 2.6];
  return [
    { hit: (x, y) => insidePolygon(x, y, [T, UR, C, UL]), color: top },
    { hit: (x, y) => insidePolygon(x, y, [UL, C, B, LL]), color: left },
    { hit: (x, y) => insidePolygon(x, y, [C, UR, LR, B]), color: right },
  ];
}

export function appIcon(size = 512) {
  return render(size, [
    { hit: (x, y) => insideRoundedRect(x, y, [0.06, 0.06, 0.94, 0.94], 0.2), color: hex('#0f5f73') },
    ...cube(0.5, 0.46, 0.27, [hex('#f2fbfd'), hex('#bfe6ef'), hex('#7cc8d9')]),
  ]);
}

export function trayIcon(size, glyph) {
  return render(size, cube(0.5, 0.47, 0.4, [hex(glyph, 1), hex(glyph, 0.72), hex(glyph, 0.45)]));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = {
    'icon.png': appIcon(512),
    'tray-dark.png': trayIcon(32, '#1b1f24'),
    'tray-dark@2x.png': trayIcon(64, '#1b1f24'),
    'tray-light.png': trayIcon(32, '#f5f7fa'),
    'tray-light@2x.png': trayIcon(64, '#f5f7fa'),
  };
  for (const [name, bytes] of Object.entries(files)) {
    fs.writeFileSync(path.join(here, name), bytes);
    console.log(`${name}: ${bytes.length} bytes`);
  }
}
