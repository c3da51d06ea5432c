// `boxkeep` with installer media, as a user types it: import says what kind it took, the list
// tells disks from installers, a box needs a disk size, eject takes the CD out, and an
// installer a box still uses cannot be removed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, BoxDetail, Image } from '../../shared/types.js';
import { BIN, cliOk, cliSync } from '../helpers/cli.js';
import { backingOf, makeQcow2, tempHome } from '../helpers/disk.js';
import { makeInstallerIso } from '../helpers/installer.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
let iso: string;

/** Without --json: what a person reads. */
function human(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, '--home', home, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, COLUMNS: '200' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  tmp = tempHome('bkcli');
  home = path.join(tmp.dir, 'home');
  iso = makeInstallerIso(tmp.dir, 'debian-netinst.iso');
  makeQcow2(path.join(tmp.dir, 'seed.qcow2'), '32M');
});
afterAll(() => tmp?.cleanup());

describe('boxkeep with installer media', () => {
  it('image import says it took an ISO as installer media; the list tells it from a disk', () => {
    const imported = human(['image', 'import', iso]);
    expect(imported.code, imported.err).toBe(0);
    expect(imported.out).toMatch(/^Imported installer media "debian-netinst" \([0-9a-f]{12}\): an ISO of .*--disk-size GiB/);
    expect(human(['image', 'import', path.join(tmp.dir, 'seed.qcow2'), '--name', 'seed']).out).toMatch(/^Imported disk image "seed"/);
    const list = human(['image', 'list']);
    expect(list.out).toMatch(/KIND/);
    expect(list.out).toMatch(/debian-netinst\s+installer \(iso\)/);
    expect(list.out).toMatch(/seed\s+disk\s/);
    const json = cliOk<Image[]>(home, ['image', 'list']);
    expect(json.map((i) => [i.name, i.kind, i.format])).toEqual([['debian-netinst', 'installer', 'iso'], ['seed', 'disk', 'qcow2']]);
  });

  it('box create from an installer needs --disk-size, and then makes a blank disk with the installer attached', () => {
    const refused = cliSync(home, ['box', 'create', 'vm', '--image', 'debian-netinst']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/installer media.*--disk-size/);
    const box = cliOk<Box>(home, ['box', 'create', 'vm', '--image', 'debian-netinst', '--disk-size', '2']);
    expect(box.diskSize).toBe(2 * 1024 ** 3);
    expect(box.imageId).toBeNull();
    expect(box.installerImageId).toBe(cliOk<Image[]>(home, ['image', 'list']).find((i) => i.name === 'debian-netinst')!.id);
    expect(backingOf(box.liveDiskPath)).toBeNull();
    expect(human(['box', 'show', 'vm']).out).toMatch(/Installer:\s+attached as a CD-ROM, booted first/);
  });

  it('snapshot list draws the tree of an installer box on its blank disk, naming the ISO it was installed from, not as an image', () => {
    cliOk(home, ['snapshot', 'create', 'vm', 'installed']);
    const tree = human(['snapshot', 'list', 'vm']);
    expect(tree.code, tree.err).toBe(0);
    expect(tree.out).toContain('blank disk (installed from debian-netinst)');
    expect(tree.out).not.toMatch(/\(image\)/);
    expect(tree.out).toMatch(/installed/);
  });

  it('image remove refuses an installer a box uses', () => {
    const r = human(['image', 'remove', 'debian-netinst']);
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/used by the box "vm" \(attached as its installer CD-ROM\); eject it first \("boxkeep box eject vm"\)/);
    expect(cliOk<Image[]>(home, ['image', 'list']).map((i) => i.name)).toContain('debian-netinst');
  });

  it('box eject takes the installer out, once', () => {
    const r = human(['box', 'eject', 'vm']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/Ejected the installer of box "vm"; it boots from its disk/);
    expect(cliOk<BoxDetail>(home, ['box', 'show', 'vm']).installerImageId).toBeNull();
    expect(human(['box', 'show', 'vm']).out).not.toMatch(/Installer:/);
    const again = cliSync(home, ['box', 'eject', 'vm']);
    expect(again.code).toBe(5);
    expect(again.err).toMatch(/no installer attached/);
  });

  it('once ejected, the installer can be removed; the box keeps its disk and says it was made from installer media', () => {
    const r = human(['image', 'remove', 'debian-netinst']);
    expect(r.code, r.err).toBe(0);
    expect(cliOk<Image[]>(home, ['image', 'list']).map((i) => i.name)).toEqual(['seed']);
    const show = human(['box', 'show', 'vm']);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toMatch(/Image:\s+none: made from installer media \(debian-netinst\), the disk started blank/);
    expect(human(['snapshot', 'list', 'vm']).out).toContain('blank disk (installed from debian-netinst)');
    expect(human(['check', 'vm']).out).toMatch(/^All good/);
  });

  it('recovery after an ejected installer lost its ISO: the record goes, and no box is said to be unable to start', () => {
    const other = makeInstallerIso(tmp.dir, 'other.iso');
    cliOk(home, ['image', 'import', other, '--name', 'other']);
    const box = cliOk<Box>(home, ['box', 'create', 'vm2', '--image', 'other', '--disk-size', '1']);
    cliOk(home, ['box', 'eject', 'vm2']);
    const image = cliOk<Image[]>(home, ['image', 'list']).find((i) => i.name === 'other')!;
    fs.chmodSync(path.dirname(image.path), 0o755);
    fs.rmSync(image.path);
    const r = human(['recover']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/The image "other" had lost its ISO file and no box used it; its record was removed/);
    expect(r.out + r.err).not.toMatch(/cannot start/);
    expect(cliOk<Box[]>(home, ['box', 'list']).find((b) => b.id === box.id)).toBeTruthy();
  });

  it('recovery with an attached installer that lost its ISO: says which box cannot start, and how to eject it', () => {
    const third = makeInstallerIso(tmp.dir, 'third.iso');
    cliOk(home, ['image', 'import', third, '--name', 'third']);
    cliOk(home, ['box', 'create', 'vm3', '--image', 'third', '--disk-size', '1']);
    const image = cliOk<Image[]>(home, ['image', 'list']).find((i) => i.name === 'third')!;
    fs.chmodSync(path.dirname(image.path), 0o755);
    fs.rmSync(image.path);
    const r = human(['recover']);
    expect(r.out).toMatch(/The installer "third" has lost its ISO file \(.*\); the box "vm3" with it attached cannot start until it is ejected \("boxkeep box eject vm3"\)/);
  });
});
