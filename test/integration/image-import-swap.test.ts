// An image file swapped between the safety check and the conversion (a download folder the
// image came from, a symlink) must not get a host file into the image through a backing
// file. The swap here happens on the import's first progress event, after the first check
// and before qemu-img starts.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MiB, openTestHome, type TestHome } from '../helpers/core.js';
import { makeQcow2, readPattern, writePattern } from '../helpers/disk.js';

let t: TestHome;
beforeAll(async () => { t = await openTestHome(); });
afterAll(async () => { await t?.cleanup(); });

it('an image swapped for one with a host backing file after the check does not pull the host file in', async () => {
  const dir = path.dirname(t.dir);
  const secret = path.join(dir, 'host-secret.bin');
  fs.writeFileSync(secret, Buffer.alloc(MiB, 0x5e));
  const offered = path.join(dir, 'offered.qcow2');
  makeQcow2(offered, 4 * MiB);
  writePattern(offered, 0, MiB, 0x22);
  const evil = path.join(dir, 'evil.qcow2');
  const r = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', secret, '-F', 'raw', evil, String(4 * MiB)], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);

  // Sanity: the evil file on its own is refused.
  await expect(t.core.images.import({ path: evil, name: 'direct' })).rejects.toThrow(/backing file/);

  const off = t.core.events.on('tasks:progress', (p) => {
    if (p.kind === 'image-import' && p.fraction === 0 && !p.done && fs.existsSync(evil)) fs.renameSync(evil, offered);
  });
  let image;
  try {
    image = await t.core.images.import({ path: offered, name: 'offered' });
  } catch (err) {
    // Refusing is the right outcome, for the right reason: the swapped-in file was checked.
    expect(err).toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/backing file|changed while/) });
    return;
  } finally {
    off();
  }
  expect(fs.existsSync(evil)).toBe(false); // the swap did happen
  expect(readPattern(image.path, 0, MiB, 0x5e), 'the host file was copied into the image').toBe(false);
});
