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
});
