// A put-file (a snapshot's folder back into a stopped box's Now) killed at its steps: the
// owner dies (kill -9), guestfish sees its stdin close and shuts its appliance down, and the
// next owner's recovery settles the put on the live disk: Now holds the old folder or the
// snapshot's, whole, with no staging entry beside it; no snapshot changes. Real libguestfs
// appliances (TCG: ~20-30 s a launch): two per point (the put, the recovery); Now is read
// back with debugfs, without one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { diskDigest, requireTools, tempHome } from '../helpers/disk.js';
import { editDisk } from '../helpers/edit-disk.js';
import { boxFrom, makeExt4Qcow2 } from '../helpers/guestfs.js';

const DRIVER = path.resolve('test/helpers/crash-driver.mjs');
const SLOW = 600_000;
let tmp: ReturnType<typeof tempHome>;
let home: string;
let core: Core;
let live: string;
let frozen: string;
let frozenPath: string;

beforeAll(async () => {
  requireTools('qemu-img', 'qemu-io', 'mkfs.ext4', 'guestfish', 'debugfs');
  tmp = tempHome('bkpc');
  home = path.join(tmp.dir, 'home');
  core = await openCore({ home, owner: 'test' });
  const disk = makeExt4Qcow2(path.join(tmp.dir, 'files.qcow2'), 32, { 'data/a.txt': 'A in the snapshot\n', 'data/b.txt': 'B\n', 'etc/hostname': 'box\n' });
  const box = await boxFrom(core, disk, 'files');
  const snapshot = await core.snapshots.create({ box: 'files', name: 'A' });
  live = box.liveDiskPath;
  frozenPath = snapshot.diskPath;
  frozen = diskDigest(frozenPath);
  // Now differs from A in /data: a.txt rewritten, b.txt gone, c.txt new.
  await editDisk(live, (root) => {
    fs.writeFileSync(path.join(root, 'data/a.txt'), 'A in Now\n');
    fs.rmSync(path.join(root, 'data/b.txt'));
    fs.writeFileSync(path.join(root, 'data/c.txt'), 'C\n');
  });
  await core.close();
}, SLOW);
afterAll(async () => {
  await core?.close().catch(() => {});
  tmp?.cleanup();
});

/**
 * Until no appliance holds the live disk. The killed put's guestfish would shut its appliance
 * down by itself, slowly under TCG; its QEMU (started by this test's driver) is SIGKILLed
 * instead, by pid: each step synced before its crash point, so the disk holds it either way.
 */
async function untilReleased(file: string): Promise<void> {
  for (const end = Date.now() + 120_000; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
    for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
      let cmdline = '';
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (cmdline.startsWith('qemu-system') || cmdline.includes('/qemu-system')) if (cmdline.includes(file)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* exited meanwhile */
        }
      }
    }
    if (spawnSync('qemu-img', ['info', file], { encoding: 'utf8' }).status === 0) return;
  }
  throw new Error(`${file} is still held by a QEMU 2 minutes after the put was killed`);
}

/** debugfs (e2fsprogs) on a raw copy of Now: reads the filesystem without another appliance launch (~30 s under TCG). */
function debugfs(raw: string, request: string): string {
  const r = spawnSync('debugfs', ['-R', request, raw], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`debugfs -R '${request}' failed: ${r.stderr}`);
  return r.stdout;
}

/** Now's /data as `name: content` lines, and whatever lies in / and /data besides. */
function nowData(): { data: string[]; root: string[] } {
  const raw = path.join(tmp.dir, 'now.raw');
  const converted = spawnSync('qemu-img', ['convert', '-q', '-O', 'raw', live, raw], { encoding: 'utf8' });
  if (converted.status !== 0) throw new Error(`qemu-img convert failed: ${converted.stderr}`);
  try {
    // `ls -p`: one `/inode/mode/uid/gid/name/size/` line an entry.
    const names = (dir: string) => debugfs(raw, `ls -p ${dir}`).split('\n').map((l) => l.split('/')[5]).filter((n): n is string => !!n && n !== '.' && n !== '..');
    const files = names('/data').sort();
    return { root: names('/').filter((n) => n !== 'lost+found'), data: files.map((f) => `${f}: ${debugfs(raw, `cat /data/${f}`).trimEnd()}`) };
  } finally {
    fs.rmSync(raw, { force: true });
  }
}

const AS_BEFORE = ['a.txt: A in Now', 'c.txt: C'];
const AS_SNAPSHOT = ['a.txt: A in the snapshot', 'b.txt: B'];

describe('put-file killed at each step', () => {
  // In order: the undone one leaves Now as it was for the next, the last one finishes the put.
  // after-copy is not run on its own (two appliance launches, ~2 min under TCG): its undo, removing
  // the staged copy, is part of after-aside's, which also puts the folder that stood aside back.
  it.each([
    ['file-put:after-aside', AS_BEFORE, /interrupted before it replaced the one in Now; Now is as it was/],
    ['file-put:after-swap', AS_SNAPSHOT, /interrupted after it had replaced the one in Now; it was finished/],
  ])('%s: recovery leaves Now with one whole /data and nothing staged, the snapshot unchanged', async (point, expected, said) => {
    const run = spawnSync(process.execPath, [DRIVER, home, 'snapshots:putFile', JSON.stringify({ box: 'files', snapshot: 'A', path: '/data' })], { encoding: 'utf8', env: { ...process.env, BOXKEEP_CRASH_AT: point }, timeout: SLOW });
    expect(run.signal, run.stderr).toBe('SIGKILL');
    await untilReleased(live);
    core = await openCore({ home, owner: 'test' });
    const box = core.boxes.resolve('files');
    expect(core.lastRecovery!.items.map((i) => `${i.level}: ${i.message}`).join('\n')).toMatch(new RegExp(`^repaired: Putting /data back into the box "files" was ${said.source}`));
    expect(fs.readdirSync(core.paths.boxJournal(box.id))).toEqual([]);
    await core.close();
    const now = nowData();
    expect(now.data).toEqual(expected);
    expect(now.root.sort()).toEqual(['data', 'etc']);
    expect(diskDigest(frozenPath)).toBe(frozen);
  }, SLOW);
});

