// Guest names becoming host paths, and the union of layer ranges behind "changed bytes".
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostPathFor, nameProblem } from '../../electron/core/inside/copy-out.js';
import { unionBytes } from '../../electron/core/disk/allocated.js';
import { Appliance, quote } from '../../electron/core/inside/appliance.js';

describe('guest names on the host', () => {
  const root = '/tmp/dest';
  it('keeps ordinary names inside the destination', () => {
    expect(hostPathFor(root, '/etc/hostname')).toBe(path.join(root, 'etc', 'hostname'));
    expect(hostPathFor(root, '')).toBe(root);
  });
  it('refuses names that would leave the destination or are no names', () => {
    for (const bad of ['/../../x', '/etc/../../x', '/a/./b', '/a//b']) {
      const r = hostPathFor(root, bad);
      expect(typeof r === 'object' && r.problem).toMatch(/not a file name/);
    }
    expect(nameProblem('..')).toMatch(/not a file name/);
    expect(nameProblem('a\0b')).toMatch(/NUL/);
    expect(nameProblem('x'.repeat(256))).toMatch(/255 bytes/);
    expect(nameProblem('odd name "with" quotes\n')).toBeNull();
  });
});

describe('the appliance', () => {
  it('says which package to install when guestfish is missing', async () => {
    const err = await Appliance.launch([{ path: '/nonexistent.qcow2', readonly: true }], { accel: 'tcg', binary: '/nonexistent/guestfish' }).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/needs libguestfs's guestfish, which was not found; install it with: sudo apt-get install libguestfs-tools/);
  });
});

describe('guestfish quoting', () => {
  it('writes every byte but plain characters as an escape, so no name can end the argument', () => {
    expect(quote('/a b"c\\d\n:')).toBe('"/a\\x20b\\x22c\\x5cd\\x0a\\x3a"');
    expect(quote('é')).toBe('"\\xc3\\xa9"');
  });
});

describe('changed bytes of several layers', () => {
  it('counts overlapping ranges once', () => {
    expect(unionBytes([[[0, 10], [20, 30]], [[5, 25]], []])).toBe(30);
    expect(unionBytes([[[0, 10]], [[0, 10]]])).toBe(10);
    expect(unionBytes([])).toBe(0);
  });
});

describe('guest names that are not UTF-8', () => {
  it('round-trip to their exact bytes and reach guestfish as those bytes', async () => {
    const { decodeGuestName, guestNameBytes } = await import('../../electron/core/inside/guest-names.js');
    for (const raw of [Buffer.from('caf\xe9', 'latin1'), Buffer.from([0xc3, 0x28, 0xf0, 0x9f, 0x98, 0x80, 0xff]), Buffer.from('ok ü 😀')]) {
      expect(guestNameBytes(decodeGuestName(raw)).equals(raw)).toBe(true);
    }
    expect(quote(decodeGuestName(Buffer.from('caf\xe9', 'latin1')))).toBe('"caf\\xe9"');
    expect(nameProblem(decodeGuestName(Buffer.from('caf\xe9', 'latin1')))).toMatch(/not UTF-8/);
  });
});
