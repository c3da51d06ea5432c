// `boxkeep snapshot diff` as a user runs it (the real bin, dist/): the changed bytes at once,
// as text and as JSON, and the refusals a person meets first.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCore } from '../../electron/core/core.js';
import { spawnSync } from 'node:child_process';
import { BIN, cliSync } from '../helpers/cli.js';
import { makeQcow2, requireTools, tempHome, writePattern } from '../helpers/disk.js';

const MiB = 1024 * 1024;
let home: ReturnType<typeof tempHome>;
let dir: string;

beforeAll(async () => {
  requireTools('qemu-img', 'qemu-io');
  home = tempHome('bkci');
  dir = path.join(home.dir, 'home');
  const core = await openCore({ home: dir, owner: 'test' });
  try {
    const seed = path.join(home.dir, 'seed.qcow2');
    makeQcow2(seed, 32 * MiB);
    await core.images.import({ path: seed, name: 'seed' });
    const box = await core.boxes.create({ name: 'dev', image: 'seed' });
    writePattern(box.liveDiskPath, 0, MiB, 0x11);
    await core.snapshots.create({ box: 'dev', name: 'a' });
    writePattern(box.liveDiskPath, 8 * MiB, 3 * MiB, 0x22);
  } finally {
    await core.close();
  }
});
afterAll(() => home?.cleanup());

describe('boxkeep snapshot diff', () => {
  it('says how much changed since a snapshot, as text and as JSON', () => {
    const text = spawnSync(process.execPath, [BIN, '--home', dir, 'snapshot', 'diff', 'dev', 'a', 'now'], { encoding: 'utf8', timeout: 120_000 });
    expect(text.status).toBe(0);
    expect(text.stdout.trim()).toBe('From "a" to Now: 3 MiB of guest data changed.');
    const json = cliSync(dir, ['snapshot', 'diff', 'dev', 'a']);
    expect(JSON.parse(json.out)).toMatchObject({ changedBytes: 3 * MiB, from: { name: 'a' }, to: { id: null, name: 'Now' }, files: null });
  });

  it('refuses a snapshot the box does not have, naming how to list them', () => {
    const r = cliSync(dir, ['snapshot', 'diff', 'dev', 'zzz']);
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.err.trim().split('\n').pop()!).error).toEqual({ code: 'NotFound', message: 'The box "dev" has no snapshot called "zzz". See its snapshots with "boxkeep snapshot list dev".' });
  });
});
