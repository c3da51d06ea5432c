// What a new user reads after the everyday flows: whether Now holds changes (the fact restore
// prompts rely on), what a removal says it moved and freed, the text of the automatic snapshot
// a restore takes, and the CLI's question before a restore would discard changes.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Box, RestoreResult, SnapshotTree } from '../../shared/types.js';
import { openTestHome, MiB, type TestHome } from '../helpers/core.js';
import { makeQcow2, readPattern, requireTools, tempHome, writePattern } from '../helpers/disk.js';
import { runOnPty } from '../helpers/pty.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'boxkeep.mjs');

describe('Now holds changes, the removal counts and the automatic snapshot', () => {
  let h: TestHome;
  beforeEach(async () => (h = await openTestHome()));
  afterEach(() => h.cleanup());

  it('a box has changes only once its live disk was written, and none right after a snapshot or a restore', async () => {
    const box = await h.core.boxes.create({ name: 'b', image: h.imageId });
    expect((await h.core.boxes.detail(box.id)).nowChanged).toBe(false);
    writePattern(box.liveDiskPath, 0, 4096, 0x22);
    expect((await h.core.boxes.detail(box.id)).nowChanged).toBe(true);
    const s1 = await h.core.snapshots.create({ box: box.id, name: 's1' });
    expect((await h.core.boxes.detail(box.id)).nowChanged).toBe(false);
    // A write of zeros is a change too: it hides what the snapshot holds there.
    spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -z 0 64k', box.liveDiskPath]);
    expect((await h.core.boxes.detail(box.id)).nowChanged).toBe(true);
    await h.core.snapshots.restore({ box: box.id, snapshot: s1.id });
    expect((await h.core.boxes.detail(box.id)).nowChanged).toBe(false);
  });

  it('the snapshot saved before a restore names no snapshot, so deleting the target leaves it true', async () => {
    const box = await h.core.boxes.create({ name: 'b', image: h.imageId });
    const target = await h.core.snapshots.create({ box: box.id, name: 'clean' });
    writePattern(box.liveDiskPath, 0, 4096, 0x33);
    const r = await h.core.snapshots.restore({ box: box.id, snapshot: target.id, snapshotCurrentFirst: true });
    await h.core.snapshots.remove(box.id, target.id);
    const saved = h.core.snapshots.get(box.id, r.savedSnapshot!.id);
    expect(saved.description).toBe('Saved automatically before a restore.');
    expect(saved.description).not.toContain('clean');
    expect(readPattern(saved.diskPath, 0, 4096, 0x33)).toBe(true);
  });

  it('a removal reports that Now moved too, and removing a box frees what its detail said it used', async () => {
    const box = await h.core.boxes.create({ name: 'b', image: h.imageId });
    const s1 = await h.core.snapshots.create({ box: box.id, name: 's1' });
    writePattern(box.liveDiskPath, 0, MiB, 0x44);
    const s2 = await h.core.snapshots.create({ box: box.id, name: 's2' });
    await h.core.snapshots.restore({ box: box.id, snapshot: s1.id });
    writePattern(box.liveDiskPath, MiB, MiB, 0x55);
    // s1 now has two dependents: the snapshot s2 and the live disk.
    const removed = await h.core.snapshots.remove(box.id, s1.id);
    expect(removed.reparentedIds).toEqual([s2.id]);
    expect(removed.nowReparented).toBe(true);
    // s2 is a leaf off the line Now follows: nothing moves.
    expect(await h.core.snapshots.remove(box.id, s2.id)).toMatchObject({ reparentedIds: [], nowReparented: false });

    const used = (await h.core.boxes.detail(box.id)).spaceUsed;
    const { freedBytes } = await h.core.boxes.remove(box.id);
    expect(freedBytes).toBe(used);
  });
});

describe('boxkeep snapshot restore asks before discarding changes, on a terminal only', () => {
  const tmp = tempHome('bkask');
  const home = path.join(tmp.dir, 'home');
  const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, '--home', home, ...args], { encoding: 'utf8', timeout: 60_000 });
  const json = <T>(...args: string[]): T => {
    const r = cli('--json', ...args);
    if (r.status !== 0) throw new Error(`boxkeep ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const onPty = (answer: string | null, ...args: string[]) => runOnPty([process.execPath, BIN, '--home', home, ...args], { prompt: '[Y/n] ', answer });
  const tree = () => json<SnapshotTree>('snapshot', 'list', 'b');
  let box: Box;

  beforeAll(() => {
    requireTools('qemu-img', 'qemu-io', 'python3');
    const image = path.join(tmp.dir, 'seed.qcow2');
    makeQcow2(image, 16 * MiB);
    json('image', 'import', image, '--name', 'seed');
    box = json<Box>('box', 'create', 'b', '--image', 'seed');
    json('snapshot', 'create', 'b', 'base');
  });
  afterAll(() => tmp.cleanup());

  it('asks when Now holds changes; Enter saves them first, "n" discards them', () => {
    writePattern(box.liveDiskPath, 0, 4096, 0x61);
    const yes = onPty('\n', 'snapshot', 'restore', 'b', 'base');
    expect(yes.out).toContain('The box "b" has changes since the snapshot "base" that the restore would discard.\nSave them as a snapshot first? [Y/n] ');
    expect(yes.code).toBe(0);
    expect(yes.out).toMatch(/Saved the state before the restore as snapshot "[^"]+"/);
    const saved = tree().snapshots.find((s) => s.name !== 'base')!;
    expect(readPattern(saved.diskPath, 0, 4096, 0x61)).toBe(true);

    writePattern(box.liveDiskPath, 0, 4096, 0x62);
    const no = onPty('n\n', 'snapshot', 'restore', 'b', 'base');
    expect(no.code).toBe(0);
    expect(no.out).toContain('Save them as a snapshot first? [Y/n] ');
    expect(no.out).not.toContain('Saved the state');
    expect(tree().snapshots).toHaveLength(2);
    expect(readPattern(box.liveDiskPath, 0, 4096, 0x62)).toBe(false);
  });

  it('Ctrl+D cancels with nothing changed; no question without changes or with a flag', () => {
    writePattern(box.liveDiskPath, 0, 4096, 0x63);
    const eof = onPty('<EOF>', 'snapshot', 'restore', 'b', 'base');
    expect(eof.code).toBe(5);
    expect(eof.out).toContain('Restore cancelled; nothing was changed.');
    expect(readPattern(box.liveDiskPath, 0, 4096, 0x63)).toBe(true);

    const discard = onPty(null, 'snapshot', 'restore', 'b', 'base', '--discard-current');
    expect(discard.code).toBe(0);
    expect(discard.out).not.toContain('[Y/n]');
    expect(readPattern(box.liveDiskPath, 0, 4096, 0x63)).toBe(false);

    // Nothing changed since "base": nothing to ask about.
    const clean = onPty(null, 'snapshot', 'restore', 'b', 'base');
    expect(clean.code).toBe(0);
    expect(clean.out).not.toContain('[Y/n]');
    expect(tree().snapshots).toHaveLength(2);

    writePattern(box.liveDiskPath, 0, 4096, 0x64);
    const save = onPty(null, 'snapshot', 'restore', 'b', 'base', '--snapshot-current-first');
    expect(save.out).not.toContain('[Y/n]');
    expect(tree().snapshots).toHaveLength(3);
    expect(cli('snapshot', 'restore', 'b', 'base', '--snapshot-current-first', '--discard-current').status).toBe(2);
  });

  it('without a terminal it restores as before: changes discarded, nothing asked', () => {
    writePattern(box.liveDiskPath, 0, 4096, 0x65);
    const r = cli('snapshot', 'restore', 'b', 'base');
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('[Y/n]');
    expect(readPattern(box.liveDiskPath, 0, 4096, 0x65)).toBe(false);
  });

  it('snapshot remove says when the live disk moved to the parent too', () => {
    json('snapshot', 'create', 'b', 'mid');
    writePattern(box.liveDiskPath, 0, 4096, 0x66);
    json('snapshot', 'create', 'b', 'top');
    json<RestoreResult>('snapshot', 'restore', 'b', 'mid', '--discard-current');
    const r = cli('snapshot', 'remove', 'b', 'mid');
    expect(r.stdout).toMatch(/; freed .*\. 1 snapshot and the live disk \(Now\) now hang from its parent\.\n$/);
    // The live disk alone: its own sentence, begun with a capital.
    json('snapshot', 'create', 'b', 'solo');
    const alone = cli('snapshot', 'remove', 'b', 'solo');
    expect(alone.stdout).toMatch(/; freed .*\. The live disk \(Now\) now hangs from its parent\.\n$/);
  });

  it('snapshot remove of a pinned snapshot asks on a terminal: only "y" removes it; --yes and a script do not ask', () => {
    const names = () => tree().snapshots.map((s) => s.name);
    json('snapshot', 'create', 'b', 'kept');
    json('snapshot', 'pin', 'b', 'kept');
    const question = 'The snapshot "kept" is pinned: AutoProtect never removes it.\nRemove it anyway? [y/N] ';
    const ask = (answer: string) => runOnPty([process.execPath, BIN, '--home', home, 'snapshot', 'remove', 'b', 'kept'], { prompt: '[y/N] ', answer });
    for (const answer of ['\n', 'n\n', '<EOF>']) {
      const no = ask(answer);
      expect(no.out).toContain(question);
      expect(no.code).toBe(5);
      expect(no.out).toContain('Remove cancelled; nothing was changed. Pass --yes');
      expect(names()).toContain('kept');
    }
    const yes = ask('y\n');
    expect(yes.code).toBe(0);
    expect(yes.out).toContain('Removed snapshot "kept"');
    expect(names()).not.toContain('kept');

    // Not pinned: nothing asked on a terminal. Pinned, with --yes or from a script: removed, nothing asked.
    json('snapshot', 'create', 'b', 'plain');
    const plain = runOnPty([process.execPath, BIN, '--home', home, 'snapshot', 'remove', 'b', 'plain'], {});
    expect(plain.code).toBe(0);
    expect(plain.out).not.toContain('[y/N]');
    for (const [name, run] of [
      ['flagged', () => runOnPty([process.execPath, BIN, '--home', home, 'snapshot', 'remove', 'b', 'flagged', '--yes'], {})],
      ['scripted', () => { const r = cli('snapshot', 'remove', 'b', 'scripted'); return { code: r.status, out: r.stdout + r.stderr }; }],
    ] as const) {
      json('snapshot', 'create', 'b', name);
      json('snapshot', 'pin', 'b', name);
      const r = run();
      expect(r.code).toBe(0);
      expect(r.out).not.toContain('[y/N]');
      expect(names()).not.toContain(name);
    }
  });
});
