// The space guard of a removal counts a layer's own data in process (disk/allocated.ts
// dataBytes): it must say what `qemu-img map` says, zero clusters and backing data excluded.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dataBytes } from '../../electron/core/disk/allocated.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-alloc-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}
function io(file: string, cmd: string): void {
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', cmd, file]);
}
/** What qemu-img map says the file holds itself. */
function mapped(file: string): number {
  const extents = JSON.parse(qemuImg('map', '-f', 'qcow2', '--output=json', file)) as { depth: number; data: boolean; length: number }[];
  return extents.filter((e) => e.depth === 0 && e.data).reduce((s, e) => s + e.length, 0);
}

describe('a layer\'s own data bytes', () => {
  it('match qemu-img map: data counted, zero clusters and the backing file not', () => {
    const base = path.join(dir, 'base.qcow2');
    const top = path.join(dir, 'top.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', base, '64M');
    io(base, 'write -P 0x11 0 8M');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top, '64M');
    io(top, 'write -P 0x22 1M 3M');
    io(top, 'write -z 6M 2M');
    io(top, 'write -z -u 20M 1M');
    io(top, 'write -P 0x33 63M 1M');
    expect(dataBytes(top)).toBe(4 * 1024 * 1024);
    expect(dataBytes(top)).toBe(mapped(top));
    expect(dataBytes(base)).toBe(mapped(base));
  });

  // Unmapped entries are skipped 64 at a time (allocated.ts): mapped ones at the edges of such a
  // block, in a last partial block, past the first L2 table and with the smallest clusters count.
  it('match qemu-img map at the edges of the skipped blocks, past one L2 table, with 512-byte clusters and compressed clusters', () => {
    const wide = path.join(dir, 'wide.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', wide, String(600 * 1024 * 1024 + 3 * 65536));
    for (const at of [0, 63 * 65536, 128 * 65536, 4095 * 65536, 8191 * 65536, 8192 * 65536]) io(wide, `write -P 0x44 ${at} 64k`);
    io(wide, `write -P 0x55 ${600 * 1024 * 1024 + 2 * 65536} 64k`);
    io(wide, `write -z ${300 * 65536} 64k`);
    expect(dataBytes(wide)).toBe(7 * 65536);
    expect(dataBytes(wide)).toBe(mapped(wide));
    const small = path.join(dir, 'small.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', small, '1M');
    for (const at of [0, 63 * 512, 64 * 512, 1000 * 512, 2047 * 512]) io(small, `write -P 0x66 ${at} 512`);
    expect(dataBytes(small)).toBe(5 * 512);
    expect(dataBytes(small)).toBe(mapped(small));
    const raw = path.join(dir, 'raw.img');
    const packed = path.join(dir, 'packed.qcow2');
    fs.writeFileSync(raw, Buffer.alloc(4 * 1024 * 1024, 0x77));
    qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', raw, packed);
    expect(dataBytes(packed)).toBe(4 * 1024 * 1024);
    expect(dataBytes(packed)).toBe(mapped(packed));
  });
});
