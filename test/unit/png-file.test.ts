// Saving a picture where the user asked (electron/cli/png-file.ts), in a folder others may
// write to, such as /tmp: the partial file beside the target is made new, never written through
// a link someone put at its name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { savePng } from '../../electron/cli/png-file.js';
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
