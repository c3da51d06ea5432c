// Virtual disk sizes past Boxkeep's largest (16 TiB, shared/bytes.ts MAX_DISK_BYTES) are refused
// where they come in: an imported image's header, an archive's manifest, --disk-size. Real qcow2
// files made by qemu-img (a huge virtual size costs nothing on disk), through the real CLI.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, Image } from '../../shared/types.js';
import { manifestOf, readTar, replaceMember, withManifest, writeTar } from '../helpers/archive.js';
import { cliHomeWithBox, cliOk, cliSync } from '../helpers/cli.js';

const TiB = 2 ** 40;
const PiB = 2 ** 50;
const EiB = 2 ** 60;

let tmp: { dir: string; cleanup(): void };
let home: string;

beforeAll(() => {
  ({ tmp, home } = cliHomeWithBox('bkds'));
  cliOk(home, ['snapshot', 'create', 'web', 'one']);
}, 120_000);
afterAll(() => tmp?.cleanup());

/** qemu-img's own qcow2 of that virtual size: 2 MiB clusters reach past 2 PiB (64 KiB ones stop there). */
function qcow2Of(name: string, size: number): string {
  const file = path.join(tmp.dir, name);
  const r = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=2M', file, String(size)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu-img create ${size}: ${r.stderr}`);
  return file;
}

/** Every path in the home with its size (the lock note aside: each command rewrites it). */
function homeFiles(): string[] {
  return (fs.readdirSync(home, { recursive: true }) as string[])
    .filter((f) => f !== 'home.lock')
    .map((f) => `${f} ${fs.lstatSync(path.join(home, f)).isDirectory() ? 'dir' : fs.lstatSync(path.join(home, f)).size}`)
    .sort();
}

function refused(args: string[]): { code: number | null; error: { code: string; message: string } } {
  const r = cliSync(home, args);
  expect(r.out).toBe('');
  return { code: r.code, error: JSON.parse(r.err).error };
}

describe('a virtual disk larger than 16 TiB', () => {
  it('image import refuses a qcow2 claiming 4 PiB or 17 TiB (qemu-img makes both), naming the file and the size; nothing is kept', () => {
    const images = cliOk<Image[]>(home, ['image', 'list']);
    const files = homeFiles();
    for (const [size, shown] of [[4 * PiB, '4 PiB'], [17 * TiB, '17 TiB']] as const) {
      const file = qcow2Of(`huge-${size}.qcow2`, size);
      const { code, error } = refused(['image', 'import', file, '--name', 'huge']);
      expect([code, error.code], error.message).toEqual([2, 'InvalidArgument']);
      expect(error.message).toBe(`The image ${file} claims a virtual disk of ${shown} (${size} bytes), more than the 16 TiB Boxkeep takes; it was not imported. ` +
        `A header this large is most likely damaged or made by mistake: check it with "qemu-img info ${file}", or make a smaller disk of its contents first.`);
      expect(cliOk<Image[]>(home, ['image', 'list'])).toEqual(images);
      expect(homeFiles()).toEqual(files);
    }
    // Past 2^53 bytes (1 EiB) the header parser already refuses it, before any size is compared.
    const { code, error } = refused(['image', 'import', qcow2Of('exa.qcow2', EiB), '--name', 'huge']);
    expect([code, error.code, error.message], error.message).toEqual([2, 'InvalidArgument', expect.stringMatching(/is beyond 2\^53 bytes; it is not a valid qcow2 image/)]);
    expect(cliOk<Image[]>(home, ['image', 'list'])).toEqual(images);
    expect(homeFiles()).toEqual(files);
  });

  it('an image of exactly 16 TiB is imported, and a box made from it has that disk', () => {
    const file = qcow2Of('edge.qcow2', 16 * TiB);
    const image = cliOk<Image>(home, ['image', 'import', file, '--name', 'edge']);
    expect(image.virtualSize).toBe(16 * TiB);
    expect(cliOk<Box>(home, ['box', 'create', 'wide', '--image', 'edge']).diskSize).toBe(16 * TiB);
  }, 120_000);

  it('box import refuses an archive whose live disk claims 4 PiB (its header says so too); nothing is kept', () => {
    const out = path.join(tmp.dir, 'web.boxkeep');
    cliOk(home, ['box', 'export', 'web', '--compression', 'none', '-o', out]);
    let entries = replaceMember(readTar(out), 'live.qcow2', fs.readFileSync(qcow2Of('live-huge.qcow2', 4 * PiB)));
    const m = manifestOf(entries);
    m.box.live.virtualSize = 4 * PiB;
    entries = withManifest(entries, m);
    const crafted = path.join(tmp.dir, 'huge.boxkeep');
    writeTar(crafted, entries);
    const boxes = cliOk<Box[]>(home, ['box', 'list']);
    const images = cliOk<Image[]>(home, ['image', 'list']);
    const files = homeFiles();
    const { code, error } = refused(['box', 'import', crafted]);
    expect([code, error.code], error.message).toEqual([2, 'InvalidArgument']);
    expect(error.message).toBe(`The archive is not a valid Boxkeep archive: its manifest says the live disk ("live.qcow2") is a virtual disk of 4 PiB (${4 * PiB} bytes), more than the 16 TiB Boxkeep takes. Nothing was imported.`);
    expect(cliOk<Box[]>(home, ['box', 'list'])).toEqual(boxes);
    expect(cliOk<Image[]>(home, ['image', 'list'])).toEqual(images);
    expect(homeFiles()).toEqual(files);
  });

  it('--disk-size past 16384 GiB is refused by box create and box set, and the box keeps its disk', () => {
    const before = cliOk<Box>(home, ['box', 'show', 'web']);
    for (const args of [['box', 'create', 'big', '--image', 'seed', '--disk-size', '16385'], ['box', 'set', 'web', '--disk-size', '16385']]) {
      const { code, error } = refused(args);
      expect([code, error.code, error.message]).toEqual([2, 'InvalidArgument', '--disk-size must be at most 16384 GiB.']);
    }
    expect(cliOk<Box>(home, ['box', 'show', 'web']).diskSize).toBe(before.diskSize);
    expect(cliOk<Box[]>(home, ['box', 'list']).map((b) => b.name)).not.toContain('big');
  });
});
