// Box create with cloud-init killed at each step (SIGKILL in a separate process, then
// recovery): the box is made whole, its seed readable and its settings recorded, or not at
// all, folder included; the clear password is in no file of the home either way.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { boxMade, cleanUpWorldsAfterEach, crashAt, makeWorld, points, recovered } from '../helpers/crash.js';
import { requireTools } from '../helpers/disk.js';
import { publicKey } from '../helpers/ssh-keys.js';

cleanUpWorldsAfterEach();
const PASSWORD = 'Crash-Test-Clear-Passw0rd';

function holding(dir: string, needle: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && fs.readFileSync(path.join(e.parentPath, e.name)).includes(needle))
    .map((e) => path.join(e.parentPath, e.name));
}

describe('box create with cloud-init killed at each step', () => {
  it.each(points('box-create'))('%s: the box exists whole with its seed, or not at all', async (point) => {
    requireTools('genisoimage', 'isoinfo', 'openssl');
    const w = await makeWorld();
    const key = publicKey();
    const r = crashAt(w, point, 'boxes:create', { name: 'cloud', image: 'seed', cloudInitUser: 'ada', cloudInitPassword: PASSWORD, cloudInitSshKeys: [key] });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    await recovered(w, (core) => {
      const box = core.store.findBox('cloud');
      expect(box !== null, 'undone unless the row exists').toBe(boxMade(point));
      if (box) {
        expect(box.cloudInit).toEqual({ user: 'ada', sshKeys: [key], hostname: 'cloud', password: true });
        expect(box.forwards.map((f) => f.guestPort)).toEqual([22]);
        const seed = core.paths.seedIso(box.id);
        const userData = spawnSync('isoinfo', ['-i', seed, '-R', '-x', '/user-data'], { encoding: 'utf8' }).stdout;
        expect(userData).toContain(`      - "${key}"`);
        expect(userData).toMatch(/hashed_passwd: "\$6\$/);
        expect(fs.readdirSync(core.paths.boxDir(box.id)).sort()).toEqual(['disks', 'journal', 'seed.iso', 'snapshots']);
      }
      expect(fs.readdirSync(core.paths.boxesDir).length).toBe(box ? 2 : 1);
      expect(holding(w.home, PASSWORD)).toEqual([]);
    });
  });
});
