// A snapshot's picture (snapshots/<id>/screen.png) in a home edited by hand: the real bin reads
// only the regular file Boxkeep wrote there. A link is refused, never followed out of the home;
// a FIFO neither hangs the command; a file too large for a picture is not loaded.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../electron/core/vm/png.js';
import type { Snapshot } from '../../shared/types.js';
import { BIN } from '../helpers/cli.js';
import { makeQcow2, requireTools, tempHome } from '../helpers/disk.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
let picture: string;

/** One CLI run; a command that hangs (a FIFO opened for reading) is killed after 20 s. */
function boxkeep(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--home', home, '--json', ...args], { encoding: 'utf8', timeout: 20_000 });
  const error = (() => { try { return (JSON.parse(r.stderr.trim().split('\n').pop()!) as { error: { code: string; message: string } }).error; } catch { return null; } })();
  return { code: r.status, signal: r.signal, out: r.stdout, error };
}

const png = (width: number, height: number) => encodePng({ width, height, rgb: Buffer.alloc(width * height * 3, 0x80) });

beforeAll(() => {
  requireTools('qemu-img', 'mkfifo');
  tmp = tempHome('bkpf');
  home = path.join(tmp.dir, 'h');
  const seed = path.join(tmp.dir, 'seed.qcow2');
  makeQcow2(seed, '8M');
  for (const args of [['image', 'import', seed, '--name', 'seed'], ['box', 'create', 'dev', '--image', 'seed'], ['snapshot', 'create', 'dev', 'a']]) {
    expect(boxkeep(...args).code, args.join(' ')).toBe(0);
  }
  const snap = JSON.parse(boxkeep('snapshot', 'show', 'dev', 'a').out) as Snapshot;
  picture = path.join(path.dirname(snap.diskPath), 'screen.png');
}, 60_000);

afterAll(() => tmp?.cleanup());

/** Puts `make` in the picture's place, then asks for the picture: it must be refused, with no file written. */
function refused(make: () => void) {
  fs.rmSync(picture, { force: true });
  make();
  const out = path.join(tmp.dir, 'out.png');
  fs.rmSync(out, { force: true });
  const r = boxkeep('snapshot', 'picture', 'dev', 'a', '-o', out);
  expect(r.signal, 'the command hung').toBeNull();
  expect(r.code).not.toBe(0);
  expect(fs.existsSync(out)).toBe(false);
  return r.error;
}

describe('a snapshot picture that is not the file Boxkeep wrote', () => {
  it('reads the regular file it wrote', () => {
    fs.writeFileSync(picture, png(32, 18));
    const out = path.join(tmp.dir, 'ok.png');
    const r = boxkeep('snapshot', 'picture', 'dev', 'a', '-o', out);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ width: 32, height: 18 });
    expect(fs.readFileSync(out)).toEqual(fs.readFileSync(picture));
  });

  it('a link to a picture outside the home is refused, not followed, and does not count as a picture', () => {
    const outside = path.join(tmp.dir, 'outside.png');
    fs.writeFileSync(outside, png(40, 20));
    expect(refused(() => fs.symlinkSync(outside, picture))).toMatchObject({ code: 'Storage', message: expect.stringContaining('is a symbolic link, not the picture Boxkeep wrote') });
    expect((JSON.parse(boxkeep('snapshot', 'show', 'dev', 'a').out) as Snapshot).hasPicture).toBe(false);
  });

  it('a FIFO is refused at once instead of hanging the command', () => {
    expect(refused(() => expect(spawnSync('mkfifo', [picture]).status).toBe(0))).toMatchObject({ code: 'Storage', message: expect.stringContaining('is a FIFO') });
  }, 30_000);

  it('a file larger than any picture is not loaded', () => {
    expect(refused(() => fs.writeFileSync(picture, Buffer.concat([png(8, 8), Buffer.alloc(800_000)])))).toMatchObject({ code: 'Storage', message: expect.stringContaining('larger than 720000 bytes') });
  });
});
