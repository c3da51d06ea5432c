// `boxkeep box create --firmware`, as a user types it: uefi makes the box's own UEFI variables
// from OVMF's template, `box show` says which firmware, and a wrong value is refused by name.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box } from '../../shared/types.js';
import { BIN, cliOk } from '../helpers/cli.js';
import { makeQcow2, tempHome } from '../helpers/disk.js';

let tmp: { dir: string; cleanup(): void };
let home: string;

function human(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, '--home', home, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, COLUMNS: '200', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  tmp = tempHome('bkcu');
  home = path.join(tmp.dir, 'home');
  makeQcow2(path.join(tmp.dir, 'seed.qcow2'), '16M');
  cliOk(home, ['image', 'import', path.join(tmp.dir, 'seed.qcow2'), '--name', 'seed']);
});
afterAll(() => tmp?.cleanup());

describe('box create --firmware', () => {
  it('uefi: the box gets its own copy of OVMF\'s variables, and box show says UEFI', () => {
    const box = cliOk<Box>(home, ['box', 'create', 'efi', '--image', 'seed', '--firmware', 'uefi']);
    expect(box.firmware).toBe('uefi');
    const vars = path.join(home, 'boxes', box.id, 'disks', 'efivars.fd');
    expect(fs.readFileSync(vars).equals(fs.readFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd'))).toBe(true);
    expect(human(['box', 'show', 'efi']).out).toMatch(/Firmware:\s+UEFI \(OVMF\)/);
  });

  it('without it: BIOS, and no variables file', () => {
    const box = cliOk<Box>(home, ['box', 'create', 'plain', '--image', 'seed']);
    expect(box.firmware).toBe('bios');
    expect(fs.existsSync(path.join(home, 'boxes', box.id, 'disks', 'efivars.fd'))).toBe(false);
    expect(human(['box', 'show', 'plain']).out).toMatch(/Firmware:\s+BIOS \(SeaBIOS\)/);
  });

  it('refuses a value that is neither, saying what it must be, and makes nothing', () => {
    const r = human(['box', 'create', 'odd', '--image', 'seed', '--firmware', 'efi']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--firmware must be "bios" \(SeaBIOS\) or "uefi" \(OVMF\)/);
    expect(cliOk<Box[]>(home, ['box', 'list']).map((b) => b.name)).toEqual(['efi', 'plain']);
  });

  it('without OVMF installed: the error names the package, and nothing is left behind', () => {
    const r = human(['box', 'create', 'nofw', '--image', 'seed', '--firmware', 'uefi'], { BOXKEEP_OVMF_DIR: path.join(tmp.dir, 'none') });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/install it with: sudo apt-get install ovmf/);
    expect(fs.readdirSync(path.join(home, 'boxes')).length).toBe(2);
  });
});
