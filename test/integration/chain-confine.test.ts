// A home edited by hand (issue 8, items 2 and 5c): a snapshot's file swapped for a symlink, a
// qcow2 backing onto a host file, a truncated layer. Real files, real qemu-img, real QEMU: every
// operation that would read through such a layer refuses before touching anything, recovery
// reports it, and `check` names it.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BoxkeepError } from '../../shared/errors.js';
import type { Box, Snapshot } from '../../shared/types.js';
import { checkHome } from '../../electron/core/check.js';
import { checkText } from '../../electron/cli/commands/system.js';
import { inspectChain, type ExpectedLayer } from '../../electron/core/disk/confine.js';
import { newId } from '../../electron/core/ids.js';
import { writeIntent } from '../../electron/core/journal.js';
import { Supervisor } from '../../electron/core/vm/supervisor.js';
import { rejection } from '../helpers/errors.js';
import { readPattern, requireTools, writePattern } from '../helpers/disk.js';
import { MiB, openTestHome, type TestHome } from '../helpers/core.js';

let t: TestHome;
let outside: string;
beforeEach(async () => {
  t = await openTestHome();
  // A host file a tampered chain would lead QEMU to; a valid qcow2, so only the path gives it away.
  outside = fs.mkdtempSync('/tmp/bk-host-');
});
afterEach(async () => {
  await t.core.close().catch(() => {});
  await t.cleanup();
  fs.rmSync(outside, { recursive: true, force: true });
});

function qemuImg(...args: string[]): void {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu-img ${args.join(' ')}: ${r.stderr}`);
}

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Box "dev": image ← s1 (0x22 at MiB 1) ← s2 (0x33 at MiB 2) ← live. */
async function boxWithTwoSnapshots(name = 'dev'): Promise<{ box: Box; s1: Snapshot; s2: Snapshot }> {
  const box = await t.core.boxes.create({ name, image: 'seed' });
  writePattern(box.liveDiskPath, MiB, MiB, 0x22);
  const s1 = await t.core.snapshots.create({ box: name, name: 's1' });
  writePattern(box.liveDiskPath, 2 * MiB, MiB, 0x33);
  const s2 = await t.core.snapshots.create({ box: name, name: 's2' });
  return { box, s1, s2 };
}

/** Every way in: restore, remove and start refuse with a Storage error naming the layer. */
async function expectRefusedEverywhere(box: Box, snapshot: Snapshot, problem: RegExp, removeTarget = 's2') {
  const layer = new RegExp(`snapshot "${snapshot.name}" of the box "${box.name}"`, 'i');
  for (const attempt of [
    () => t.core.snapshots.restore({ box: box.name, snapshot: snapshot.name }),
    () => t.core.snapshots.restore({ box: box.name, snapshot: 's2' }),
    () => t.core.snapshots.remove(box.name, removeTarget),
    () => t.core.vms.start(box.name),
  ]) {
    const err = await rejection(attempt());
    expect(err.code, err.message).toBe('Storage');
    expect(err.message).toMatch(layer);
    expect(err.message).toMatch(problem);
    expect(err.message).toMatch(/boxkeep check/);
  }
  expect(t.core.store.getBox(box.id)!.status).not.toBe('running');
  const report = await t.core.recover();
  const said = report.items.filter((i) => i.level === 'kept' && layer.test(i.message)).map((i) => i.message);
  expect(said.join('\n')).toMatch(problem);
}

describe('the disk chain stays inside the home', () => {
  it('a snapshot file replaced by a symlink to a host file: restore, remove and start refuse, recover reports it', async () => {
    const { box, s1 } = await boxWithTwoSnapshots();
    const host = path.join(outside, 'host.qcow2');
    fs.copyFileSync(s1.diskPath, host);
    fs.rmSync(s1.diskPath);
    fs.symlinkSync(host, s1.diskPath);
    await expectRefusedEverywhere(box, s1, /symbolic link/);
    expect(fs.readlinkSync(s1.diskPath)).toBe(host);
  });

  it('a snapshot rewritten as a qcow2 backing onto /etc/shadow is refused and reported', async () => {
    const { box, s1 } = await boxWithTwoSnapshots();
    fs.rmSync(s1.diskPath);
    qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', s1.diskPath, String(16 * MiB));
    await expectRefusedEverywhere(box, s1, /backs onto "\/etc\/shadow"/);
  });

  it("a snapshot backing onto another box's snapshot is refused", async () => {
    const { box, s1 } = await boxWithTwoSnapshots();
    const other = await boxWithTwoSnapshots('other');
    qemuImg('rebase', '-u', '-f', 'qcow2', '-b', other.s1.diskPath, '-F', 'qcow2', s1.diskPath);
    await expectRefusedEverywhere(box, s1, new RegExp(`backs onto "${other.s1.diskPath}"`));
  });

  it('a backing file declared raw instead of qcow2 is refused', async () => {
    const { box, s1, s2 } = await boxWithTwoSnapshots();
    qemuImg('rebase', '-u', '-f', 'qcow2', '-b', s1.diskPath, '-F', 'raw', s2.diskPath);
    const err = await rejection(t.core.snapshots.restore({ box: 'dev', snapshot: 's2' }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/snapshot "s2" of the box "dev".*format "raw" instead of qcow2/i);
    expect((await rejection(t.core.vms.start('dev'))).message).toMatch(/format "raw"/);
    expect((await rejection(t.core.snapshots.remove('dev', 's1'))).message).toMatch(/format "raw"/);
    expect((await t.core.recover()).items.map((i) => i.message).join('\n')).toMatch(/snapshot "s2".*format "raw"/i);
  });

  it('a symlinked snapshot folder (snapshots/<id> a symlink) is refused', async () => {
    const { box, s1 } = await boxWithTwoSnapshots();
    const dir = path.dirname(s1.diskPath);
    const moved = path.join(outside, 'moved');
    fs.cpSync(dir, moved, { recursive: true });
    fs.rmSync(dir, { recursive: true });
    fs.symlinkSync(moved, dir);
    await expectRefusedEverywhere(box, s1, /the folder .*snapshots\/.* is a symbolic link/);
  });

  it('a start through a tampered chain never gives QEMU a host file (real QEMU, /proc/<pid>/fd)', async () => {
    requireTools('qemu-system-x86_64');
    const { box, s1 } = await boxWithTwoSnapshots();
    const host = path.join(outside, 'secret.qcow2');
    fs.copyFileSync(s1.diskPath, host);
    fs.rmSync(s1.diskPath);
    fs.symlinkSync(host, s1.diskPath);
    const hostIno = fs.statSync(host).ino;
    let started: Box | null = null;
    try {
      started = await t.core.vms.start('dev');
    } catch (err) {
      expect((err as { code: string }).code).toBe('Storage');
    }
    try {
      const pid = (t.core.vms as Supervisor).sessions.get(box.id)?.pid;
      const held = pid ? fs.readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return fs.statSync(`/proc/${pid}/fd/${fd}`).ino; } catch { return -1; } }) : [];
      expect(held).not.toContain(hostIno);
      expect(started, 'the start must be refused before QEMU is spawned').toBeNull();
    } finally {
      if (started) await t.core.vms.stop('dev', { force: true });
    }
  });

  /** A start where `swap` (shell) runs after Boxkeep checked the chain and before QEMU opens it. */
  async function expectStartRefusedAfterSwap(box: Box, swap: string, file: RegExp, said = 'QEMU opened a different file than the one Boxkeep checked at ') {
    // Stands in for the race: a wrapper that runs the swap only on the real start, not on `--version`.
    const wrapper = path.join(outside, 'qemu-swap.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *-blockdev*) ${swap};; esac\nexec qemu-system-x86_64 "$@"\n`, { mode: 0o755 });
    const supervisor = new Supervisor(t.core, { qemuBinary: wrapper });
    t.core.vms = supervisor;
    const outcome = await supervisor.start('dev').then(() => null, (e: BoxkeepError) => e);
    // Without the check QEMU would be running on the host file: stop it before failing.
    if (supervisor.sessions.has(box.id)) await supervisor.stop('dev', { force: true });
    const err = outcome!;
    expect(err, 'the start must be refused').toBeInstanceOf(BoxkeepError);
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(new RegExp(`${said}.*${file.source}`));
    expect(supervisor.sessions.has(box.id)).toBe(false);
    const fp = JSON.parse(fs.readFileSync(path.join(t.core.paths.runDir(box.id), 'qemu.json'), 'utf8')) as { pid: number };
    expect(fs.existsSync(`/proc/${fp.pid}`) && !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${fp.pid}/stat`, 'utf8')), 'QEMU must be stopped').toBe(false);
    expect(t.core.store.getBox(box.id)!.status).not.toBe('running');
  }

  it('a layer swapped after the check, just before QEMU opens it: the guest never runs and QEMU is stopped', async () => {
    requireTools('qemu-system-x86_64');
    const { box, s1 } = await boxWithTwoSnapshots();
    const host = path.join(outside, 'secret.qcow2');
    fs.copyFileSync(s1.diskPath, host);
    await expectStartRefusedAfterSwap(box, `rm -f '${s1.diskPath}'; ln -s '${host}' '${s1.diskPath}'`, /snapshots.*container\.qcow2/);
  });

  it('a layer moved after the check to where QEMU opens its serial log, a symlink in its place: QEMU holds the checked file, but only as its log; refused', async () => {
    requireTools('qemu-system-x86_64');
    const { box, s1 } = await boxWithTwoSnapshots();
    const host = path.join(outside, 'secret.qcow2');
    fs.copyFileSync(s1.diskPath, host);
    // Deterministic, unlike waiting for a freed inode number to be reused: QEMU opens the
    // checked inode itself (as its serial log, logfile=), so "QEMU holds every checked inode" passes.
    const log = path.join(t.core.paths.logsDir(box.id), 'serial.log');
    // QEMU holds it write-only (logappend): not as a disk, so the first check refuses it.
    await expectStartRefusedAfterSwap(box, `mv '${s1.diskPath}' '${log}'; ln -s '${host}' '${s1.diskPath}'`, /snapshots.*container\.qcow2/);
  });

  it('the same, and the layer moved back once QEMU opened the host file: QEMU holds the checked file only as its (write-only) serial log; refused', async () => {
    requireTools('qemu-system-x86_64');
    const { box, s1 } = await boxWithTwoSnapshots();
    const host = path.join(outside, 'secret.qcow2');
    fs.copyFileSync(s1.diskPath, host);
    const log = path.join(t.core.paths.logsDir(box.id), 'serial.log');
    // The swap back waits (in the background) until the exec'ed QEMU ($$) holds the host file,
    // and holds QEMU stopped (SIGSTOP) meanwhile, so QEMU's monitor cannot answer Boxkeep first.
    // It gives up once that QEMU is gone (refused before it opened the host file): never left spinning.
    const back = `(while [ -d /proc/$$ ] && ! ls -l /proc/$$/fd 2>/dev/null | grep -q secret.qcow2; do :; done; [ -d /proc/$$ ] || exit 0; kill -STOP $$; mv -f '${log}' '${s1.diskPath}'; kill -CONT $$) &`;
    // Should Boxkeep look before the swap back, the symlink refuses it instead: refused either way.
    await expectStartRefusedAfterSwap(box, `mv '${s1.diskPath}' '${log}'; ln -s '${host}' '${s1.diskPath}'; ${back}`, /snapshots.*container\.qcow2/, '(QEMU opened a different file than the one Boxkeep checked at |a file Boxkeep checked was replaced before QEMU had opened it)');
  });

  it('the snapshots/ folder swapped for a symlink to a copy after the check, just before QEMU opens it: refused too', async () => {
    requireTools('qemu-system-x86_64');
    const { box } = await boxWithTwoSnapshots();
    const dir = t.core.paths.snapshotsDir(box.id);
    const moved = path.join(outside, 'snapshots');
    fs.cpSync(dir, moved, { recursive: true });
    await expectStartRefusedAfterSwap(box, `mv '${dir}' '${dir}.old'; ln -s '${moved}' '${dir}'`, /snapshots.*container\.qcow2/);
  });

  it('a healthy box starts under real QEMU holding exactly its own layers', async () => {
    requireTools('qemu-system-x86_64');
    const { box, s1, s2 } = await boxWithTwoSnapshots();
    await t.core.vms.start('dev');
    try {
      const pid = (t.core.vms as Supervisor).sessions.get(box.id)!.pid;
      const held = new Set(fs.readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return fs.statSync(`/proc/${pid}/fd/${fd}`).ino; } catch { return -1; } }));
      for (const f of [box.liveDiskPath, s2.diskPath, s1.diskPath, t.core.store.getImage(t.imageId)!.path]) expect(held.has(fs.statSync(f).ino), f).toBe(true);
    } finally {
      await t.core.vms.stop('dev', { force: true });
    }
  });
});

describe("an image's kernel and initrd stay inside the home", () => {
  /** Box "dev" on the image "direct", which boots its own kernel and initrd. */
  async function directBootBox(): Promise<{ box: Box; kernel: string; initrd: string }> {
    const disk = path.join(outside, 'direct.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', disk, String(16 * MiB));
    fs.writeFileSync(path.join(outside, 'k'), 'kernel-bytes');
    fs.writeFileSync(path.join(outside, 'i'), 'initrd-bytes');
    const image = await t.core.images.import({ path: disk, name: 'direct', kernelPath: path.join(outside, 'k'), initrdPath: path.join(outside, 'i'), append: 'console=ttyS0' });
    const box = await t.core.boxes.create({ name: 'dev', image: 'direct' });
    return { box, kernel: image.kernelPath!, initrd: image.initrdPath! };
  }

  it('a kernel replaced by a symlink to a host file: start refuses before QEMU runs, and check names it (for a linked clone too)', async () => {
    const { box, kernel } = await directBootBox();
    await t.core.snapshots.create({ box: 'dev', name: 's1' });
    const clone = await t.core.clones.clone({ box: 'dev', from: 's1', name: 'twin' });
    const host = path.join(outside, 'host-kernel');
    fs.writeFileSync(host, 'a kernel Boxkeep never imported');
    fs.rmSync(kernel);
    fs.symlinkSync(host, kernel);

    for (const name of ['dev', 'twin']) {
      const err = await rejection(t.core.vms.start(name));
      expect(err.code, err.message).toBe('Storage');
      expect(err.message).toMatch(new RegExp(`The kernel of the image "direct" is not the file Boxkeep imported \\(${kernel}\\): the file is a symbolic link \\(to ${host}\\), which Boxkeep never follows`));
      expect(err.message).toMatch(new RegExp(`did not start the box "${name}".*boxkeep check`));
    }
    for (const id of [box.id, clone.id]) {
      expect(t.core.store.getBox(id)!.status).not.toBe('running');
      expect(fs.existsSync(path.join(t.core.paths.runDir(id), 'qemu.json')), 'QEMU must never be spawned').toBe(false);
    }
    expect(fs.readlinkSync(kernel)).toBe(host);

    const report = await checkHome(t.core);
    expect(report.ok).toBe(false);
    for (const name of ['dev', 'twin']) {
      const bad = report.boxes.find((b) => b.box === name)!.layers.filter((l) => !l.ok);
      expect(bad.map((l) => [l.kind, l.name]), name).toEqual([['image', 'direct']]);
      expect(bad[0]!.problems.join(' ')).toMatch(new RegExp(`its kernel \\(${kernel}\\): the file is a symbolic link \\(to ${host}\\), which Boxkeep never follows`));
    }
    expect(checkText(report)).toMatch(/2 damaged disk layers[\s\S]*dev +image +direct +its kernel .*symbolic link/);
  });

  it('an initrd replaced by a FIFO or a second hard link is refused and named; put back, the check passes', async () => {
    const { initrd } = await directBootBox();
    const saved = path.join(outside, 'initrd.saved');
    fs.renameSync(initrd, saved);
    expect(spawnSync('mkfifo', [initrd]).status).toBe(0);
    expect((await rejection(t.core.vms.start('dev'))).message).toMatch(/The initrd of the image "direct" is not the file Boxkeep imported .*: it is not a regular file/);
    expect((await checkHome(t.core)).boxes[0]!.layers.find((l) => l.kind === 'image')!.problems.join(' ')).toMatch(/its initrd .*not a regular file/);

    fs.rmSync(initrd);
    fs.copyFileSync(saved, initrd);
    fs.linkSync(initrd, path.join(path.dirname(initrd), 'initrd.again'));
    expect((await rejection(t.core.vms.start('dev'))).message).toMatch(/The initrd .*: it has 2 hard links/);
    fs.rmSync(path.join(path.dirname(initrd), 'initrd.again'));
    expect((await checkHome(t.core)).ok).toBe(true);
  });
});

describe('recovery never finishes a merge through a tampered layer', () => {
  it('an interrupted removal whose snapshot now backs onto /etc/shadow is kept, and nothing is merged into its child', async () => {
    const { box, s1, s2 } = await boxWithTwoSnapshots();
    // What removeOffline writes first: the intent of a rebase-mode removal of s1 (s2 onto the image).
    writeIntent(t.core.paths.boxJournal(box.id), {
      id: newId(), op: 'snapshot-remove', startedAt: Date.now(), boxId: box.id, snapshotId: s1.id, snapshotPath: s1.diskPath,
      parentPath: t.core.store.getImage(t.imageId)!.path, parentId: null, mode: 'rebase', dependents: [{ path: s2.diskPath, snapshotId: s2.id }],
    });
    fs.rmSync(s1.diskPath);
    qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', s1.diskPath, String(16 * MiB));
    const child = sha(s2.diskPath);
    const report = await t.core.recover();
    expect(report.items.map((i) => `${i.level}: ${i.message}`).join('\n')).toMatch(/kept: Deleting snapshot "s1" was interrupted and cannot be finished: .*backs onto "\/etc\/shadow"/i);
    expect(sha(s2.diskPath)).toBe(child);
    expect(t.core.store.getSnapshot(s2.id)!.parentId).toBe(s1.id);
    expect(fs.readdirSync(t.core.paths.boxJournal(box.id))).toHaveLength(1);
  });
});

describe('frozen layers keep the facts recorded when they were frozen', () => {
  it('a snapshot truncated to 100 KiB: check names it, remove/restore/start refuse, nothing is merged, recover reports it', async () => {
    const { box, s1, s2 } = await boxWithTwoSnapshots();
    const healthy = await checkHome(t.core);
    expect(healthy.ok).toBe(true);
    fs.truncateSync(s1.diskPath, 100 * 1024);
    const childBefore = sha(s2.diskPath);

    const report = await checkHome(t.core, 'dev');
    expect(report.ok).toBe(false);
    expect(report.damaged).toBeGreaterThanOrEqual(1);
    const bad = report.boxes[0]!.layers.filter((l) => !l.ok);
    expect(bad.map((l) => l.name)).toContain('s1');
    expect(bad.find((l) => l.name === 's1')!.problems.join(' ')).toMatch(/102400 bytes long.*\(truncated\)/);

    for (const attempt of [
      () => t.core.snapshots.remove('dev', 's1'),
      () => t.core.snapshots.restore({ box: 'dev', snapshot: 's1' }),
      () => t.core.vms.start('dev'),
    ]) {
      const err = await rejection(attempt());
      expect(err.code).toBe('Storage');
      expect(err.message).toMatch(/snapshot "s1" of the box "dev" .*truncated/i);
    }
    expect(sha(s2.diskPath)).toBe(childBefore);
    expect(t.core.store.getSnapshot(s1.id)).not.toBeNull();
    expect(fs.readdirSync(t.core.paths.boxJournal(box.id))).toEqual([]);
    const recovered = await t.core.recover();
    expect(recovered.items.map((i) => i.message).join('\n')).toMatch(/snapshot "s1" of the box "dev".*truncated/i);
  });

  it('snapshots frozen before facts were kept get them at the next recovery, and a later truncation is caught', async () => {
    const { s1 } = await boxWithTwoSnapshots();
    t.core.store.db.prepare('UPDATE snapshots SET file_size = NULL, header_digest = NULL').run();
    t.core.store.db.prepare('UPDATE images SET file_size = NULL, header_digest = NULL').run();
    expect(t.core.store.snapshotFacts(s1.id)).toBeNull();
    expect((await t.core.recover()).items).toEqual([]);
    expect(t.core.store.snapshotFacts(s1.id)).toMatchObject({ fileSize: fs.statSync(s1.diskPath).size });
    expect(t.core.store.imageFacts(t.imageId)).not.toBeNull();
    fs.truncateSync(s1.diskPath, 100 * 1024);
    expect((await rejection(t.core.snapshots.restore({ box: 'dev', snapshot: 's1' }))).message).toMatch(/truncated/);
  });

  it('a remove that merges rewrites the surviving layer and records its new facts: the next remove and check still pass', async () => {
    await boxWithTwoSnapshots();
    writePattern(t.core.store.getBox(t.core.boxes.resolve('dev').id)!.liveDiskPath, 3 * MiB, MiB, 0x44);
    await t.core.snapshots.create({ box: 'dev', name: 's3' });
    await t.core.snapshots.remove('dev', 's2');
    expect((await checkHome(t.core)).ok).toBe(true);
    await t.core.snapshots.remove('dev', 's1');
    const report = await checkHome(t.core);
    expect(report.ok, JSON.stringify(report)).toBe(true);
    const s3 = t.core.snapshots.get('dev', 's3');
    expect(readPattern(s3.diskPath, MiB, MiB, 0x22)).toBe(true);
    expect(readPattern(s3.diskPath, 2 * MiB, MiB, 0x33)).toBe(true);
    await t.core.snapshots.restore({ box: 'dev', snapshot: 's3' });
  });

  /** Box "dev" with five snapshots: the layers top first, as the check expects them. */
  async function fiveSnapshotChain(): Promise<{ box: Box; layers: ExpectedLayer[] }> {
    const box = await t.core.boxes.create({ name: 'dev', image: 'seed' });
    const snaps: Snapshot[] = [];
    for (let i = 1; i <= 5; i++) snaps.push(await t.core.snapshots.create({ box: 'dev', name: `s${i}` }));
    const layer = (file: string): ExpectedLayer => ({ path: file, what: file, facts: null });
    return { box, layers: [layer(t.core.paths.liveDisk(box.id)), ...snaps.reverse().map((s) => layer(s.diskPath)), layer(t.core.paths.imageDisk(t.imageId))] };
  }

  it('one check of a chain looks at each folder once and at every layer file, however many layers share them', async () => {
    const { box, layers } = await fiveSnapshotChain();
    const lstat = vi.spyOn(fs, 'lstatSync');
    let looked: string[];
    try {
      expect(inspectChain(t.core.paths.root, layers).problems).toEqual([]);
      looked = lstat.mock.calls.map(([p]) => String(p));
    } finally {
      lstat.mockRestore();
    }
    const times = (p: string) => looked.filter((l) => l === p).length;
    for (const { path: file } of layers) expect(times(file), file).toBe(1);
    for (const folder of [t.core.paths.boxesDir, t.core.paths.boxDir(box.id), t.core.paths.snapshotsDir(box.id), t.core.paths.imagesDir]) expect(times(folder), folder).toBe(1);
    expect(Math.max(...looked.map(times))).toBe(1);
  });

  it('a shared folder swapped for a symlink in the middle of one check: every layer checked after the swap is refused', async () => {
    const { box, layers } = await fiveSnapshotChain();
    const dir = t.core.paths.snapshotsDir(box.id);
    const moved = path.join(outside, 'snapshots');
    fs.cpSync(dir, moved, { recursive: true });
    // The copies are the same bytes: only where they lie gives them away. The swap (a real
    // rename and symlink) happens once layer 1 is checked, as layer 2's own folder is looked at.
    const swapAt = path.dirname(layers[2]!.path);
    const real = fs.lstatSync.bind(fs);
    let swapped = false;
    const lstat = vi.spyOn(fs, 'lstatSync').mockImplementation(((p: fs.PathLike, o?: fs.StatSyncOptions) => {
      if (!swapped && String(p) === swapAt) {
        swapped = true;
        fs.renameSync(dir, `${dir}.old`);
        fs.symlinkSync(moved, dir);
      }
      return real(p, o);
    }) as typeof fs.lstatSync);
    let problems;
    try {
      problems = inspectChain(t.core.paths.root, layers).problems;
    } finally {
      lstat.mockRestore();
    }
    expect(swapped).toBe(true);
    expect(problems.map((p) => p.index)).toEqual([2, 3, 4, 5]);
    for (const p of problems) expect(p.problem).toMatch(new RegExp(`replaced while being checked.*${moved}`));
  });

  it('a folder all snapshots share (snapshots/) replaced by a symlink is reported for every layer under it', async () => {
    const { box, layers } = await fiveSnapshotChain();
    const dir = t.core.paths.snapshotsDir(box.id);
    const moved = path.join(outside, 'snapshots');
    fs.cpSync(dir, moved, { recursive: true });
    fs.rmSync(dir, { recursive: true });
    fs.symlinkSync(moved, dir);
    const { problems } = inspectChain(t.core.paths.root, layers);
    expect(problems.map((p) => p.index)).toEqual([1, 2, 3, 4, 5]);
    for (const p of problems) expect(p.problem).toMatch(/the folder .*snapshots is a symbolic link/);
  });
});

describe('a snapshot create looks at the live disk it freezes', () => {
  it('refuses a live disk that backs elsewhere or is a symlink, and one whose current snapshot has lost its record; nothing is frozen', async () => {
    const { box, s2 } = await boxWithTwoSnapshots();
    const live = box.liveDiskPath;
    const keep = path.join(outside, 'live.qcow2');
    fs.copyFileSync(live, keep);
    // Backing onto the first snapshot instead of the current one.
    qemuImg('rebase', '-u', '-F', 'qcow2', '-b', t.core.snapshots.get('dev', 's1').diskPath, live);
    let err = await rejection(t.core.snapshots.create({ box: 'dev', name: 'x' }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/live disk of the box "dev".*backs onto/);
    // A symlink to a good copy: refused too.
    fs.rmSync(live);
    fs.symlinkSync(keep, live);
    err = await rejection(t.core.snapshots.create({ box: 'dev', name: 'x' }));
    expect(err.message).toMatch(/live disk of the box "dev".*symbolic link/);
    fs.rmSync(live);
    fs.copyFileSync(keep, live);
    // The current snapshot's row gone: the whole chain is walked and names it.
    t.core.store.db.pragma('foreign_keys = OFF');
    t.core.store.db.prepare('DELETE FROM snapshots WHERE id = ?').run(s2.id);
    t.core.store.db.pragma('foreign_keys = ON');
    err = await rejection(t.core.snapshots.create({ box: 'dev', name: 'x' }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/records lost/);
    expect(t.core.store.listSnapshots(box.id).map((s) => s.name)).toEqual(['s1']);
    expect(fs.readdirSync(t.core.paths.snapshotsDir(box.id)).sort()).toEqual([t.core.snapshots.get('dev', 's1').id, s2.id].sort());
  });

  it('a snapshots folder that is a symlink to a folder elsewhere: the snapshot is refused, the live disk stays in disks/ as it was, no row, nothing written there', async () => {
    const box = await t.core.boxes.create({ name: 'dev', image: 'seed' });
    writePattern(box.liveDiskPath, MiB, MiB, 0x22);
    const dir = t.core.paths.snapshotsDir(box.id);
    fs.rmSync(dir, { recursive: true, force: true });
    const elsewhere = path.join(outside, 'snapshots');
    fs.mkdirSync(elsewhere);
    fs.symlinkSync(elsewhere, dir);
    const before = sha(box.liveDiskPath);
    const err = await rejection(t.core.snapshots.create({ box: 'dev', name: 'first' }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/The snapshot "first" of the box "dev" was not taken: .*the folder .*snapshots is a symbolic link \(to .*bk-host-.*\/snapshots\).*Nothing was moved or written/);
    expect(sha(box.liveDiskPath)).toBe(before);
    expect(fs.readdirSync(t.core.paths.disksDir(box.id))).toEqual(['container.qcow2']);
    expect(t.core.store.listSnapshots(box.id)).toEqual([]);
    expect(t.core.store.getBox(box.id)!.currentSnapshotId).toBeNull();
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    expect(fs.readdirSync(t.core.paths.boxJournal(box.id))).toEqual([]);
    expect(fs.readlinkSync(dir)).toBe(elsewhere);
  });

  it('never grows a host image through a live disk swapped for a link to it, now or at the next start', async () => {
    const { box } = await boxWithTwoSnapshots();
    const host = path.join(outside, 'host.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', host, '64M');
    const live = box.liveDiskPath;
    fs.renameSync(live, path.join(outside, 'live.qcow2'));
    fs.symlinkSync(host, live);
    const hostSize = () => JSON.parse(spawnSync('qemu-img', ['info', '--output=json', host], { encoding: 'utf8' }).stdout)['virtual-size'];
    let err = await rejection(t.core.boxes.update({ box: 'dev', diskSizeGiB: 2 }));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/live disk of the box "dev".*symbolic link/);
    // A grow asked for while the box ran, done at the start, before QEMU opens the disk.
    t.core.store.db.prepare('UPDATE boxes SET pending_disk_size = ? WHERE id = ?').run(2 * 1024 ** 3, box.id);
    err = await rejection(t.core.vms.start('dev'));
    expect(err.code).toBe('Storage');
    expect(err.message).toMatch(/live disk of the box "dev".*symbolic link/);
    expect(hostSize()).toBe(64 * MiB);
    expect(t.core.store.getBox(box.id)!.status).toBe(box.status);
  });

  it('reads only the live disk, not every frozen layer under it (a long chain costs a create nothing more)', async () => {
    await t.core.boxes.create({ name: 'dev', image: 'seed' });
    const snaps: Snapshot[] = [];
    for (let i = 1; i <= 5; i++) snaps.push(await t.core.snapshots.create({ box: 'dev', name: `s${i}` }));
    const open = vi.spyOn(fs, 'openSync');
    try {
      await t.core.snapshots.create({ box: 'dev', name: 's6' });
      const opened = open.mock.calls.map(([p]) => String(p));
      // The spy sees the reads the check makes (else it would prove nothing): the live disk's.
      expect(opened).toContain(t.core.store.findBox('dev')!.liveDiskPath);
      for (const s of snaps) expect(opened, s.name).not.toContain(s.diskPath);
    } finally {
      open.mockRestore();
    }
  });
});
