// Installer media with real QEMU: a box boots from its CD first (the CD's boot code writes a
// boot sector onto the blank disk through the BIOS), Eject takes the CD out of the running QEMU
// and out of the record, and the next start boots from the disk. Snapshots work throughout.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { createRouter } from '../../electron/core/router.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { bootImage, CD_MARKER, DISK_MARKER, INSTALLED_MARKER, makeInstallerIso, waitForSerial } from '../helpers/installer.js';

let tmp: { dir: string; cleanup(): void };
let core: Core;

beforeEach(async () => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'qemu-io', 'genisoimage');
  tmp = tempHome('bki');
  core = await openCore({ home: path.join(tmp.dir, 'h'), owner: 'test', supervisor: { stopTimeoutMs: 2000 } });
});

afterEach(async () => {
  const sup = core.vms as Supervisor;
  for (const id of [...sup.sessions.keys()]) await core.vms.stop(id, { force: true }).catch(() => {});
  await core.close().catch(() => {});
  tmp.cleanup();
});

const sup = () => core.vms as Supervisor;
const logSize = (boxId: string) => (fs.existsSync(sup().logFile(boxId)) ? fs.statSync(sup().logFile(boxId)).size : 0);
const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
const openFiles = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } });

/** The first sector of a box disk as the guest sees it, read by qemu-img (not by Boxkeep). */
function firstSector(file: string): Buffer {
  const out = path.join(tmp.dir, `sector-${Date.now()}.raw`);
  const r = spawnSync('qemu-img', ['dd', '-U', '-f', 'qcow2', '-O', 'raw', `if=${file}`, `of=${out}`, 'bs=512', 'count=1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu-img dd: ${r.stderr}`);
  const bytes = fs.readFileSync(out);
  fs.rmSync(out);
  return bytes;
}

function qemuImgCheck(file: string): void {
  const r = spawnSync('qemu-img', ['check', '-q', '-f', 'qcow2', file], { encoding: 'utf8' });
  expect(r.status, `qemu-img check ${file}: ${r.stdout}${r.stderr}`).toBe(0);
}

describe('a box installed from installer media', () => {
  it('boots from the CD first, ejects it while running, then boots from the disk; snapshots work throughout', { timeout: 240_000 }, async () => {
    const iso = makeInstallerIso(tmp.dir);
    const image = await core.images.import({ path: iso, name: 'installer' });
    expect(image.kind).toBe('installer');
    const box = await core.boxes.create({ name: 'fresh', image: 'installer', diskSizeGiB: 1 });
    const installedSector = bootImage().subarray(512, 1024);
    expect(firstSector(box.liveDiskPath).equals(installedSector)).toBe(false);

    // First start: the CD boots and writes its boot sector onto the disk.
    await core.vms.start('fresh');
    const first = sup().session(box.id);
    const args = cmdline(first.pid);
    expect(args.some((a) => a.startsWith('ide-cd,') && a.includes('bootindex=0'))).toBe(true);
    expect(args.some((a) => a.includes('"driver":"raw"') && a.includes('"read-only":true'))).toBe(true);
    const log = await waitForSerial(sup().logFile(box.id), 0, INSTALLED_MARKER);
    expect(log).toContain(CD_MARKER);
    expect(log).not.toContain(DISK_MARKER);

    // A live snapshot with the CD attached: the ISO is no layer of the chain.
    const installed = await core.snapshots.create({ box: 'fresh', name: 'installed' });
    expect(installed.live).toBe(true);
    expect(firstSector(installed.diskPath).equals(installedSector)).toBe(true);

    // Eject while running: QEMU lets go of the ISO at once, and the record forgets it.
    expect(openFiles(first.pid)).toContain(image.path);
    const ejected = await createRouter(core).invoke('boxes:ejectInstaller', { box: 'fresh' }) as { installerImageId: string | null };
    expect(ejected.installerImageId).toBeNull();
    expect(openFiles(first.pid)).not.toContain(image.path);
    const blocks = await first.qmp.execute<{ qdev?: string; inserted?: unknown }[]>('query-block');
    expect(blocks.find((b) => b.qdev?.includes('cd0'))?.inserted).toBeUndefined();
    await core.vms.stop('fresh', { force: true });

    // Second start: no CD at all, and the disk's own boot sector runs.
    const offset = logSize(box.id);
    await core.vms.start('fresh');
    const second = sup().session(box.id);
    expect(cmdline(second.pid).some((a) => a.includes('ide-cd'))).toBe(false);
    const again = await waitForSerial(sup().logFile(box.id), offset, DISK_MARKER);
    expect(again).not.toContain(CD_MARKER);
    await core.vms.stop('fresh', { force: true });

    // Offline snapshots on the tree whose root stands alone.
    const booted = await core.snapshots.create({ box: 'fresh', name: 'booted' });
    await core.snapshots.restore({ box: 'fresh', snapshot: 'installed' });
    expect(firstSector(box.liveDiskPath).equals(installedSector)).toBe(true);
    await core.snapshots.remove('fresh', 'installed');
    for (const f of [booted.diskPath, box.liveDiskPath]) {
      qemuImgCheck(f);
      expect(firstSector(f).equals(installedSector)).toBe(true);
    }
    const report = await createRouter(core).invoke('system:check', { box: 'fresh' }) as { ok: boolean };
    expect(report.ok).toBe(true);

    // Ejected, the ISO is no part of the box: it can be removed, and the box boots from its disk.
    await core.images.remove('installer');
    expect(fs.existsSync(image.path)).toBe(false);
    const third = logSize(box.id);
    await core.vms.start('fresh');
    expect(await waitForSerial(sup().logFile(box.id), third, DISK_MARKER)).not.toContain(CD_MARKER);
    await core.vms.stop('fresh', { force: true });
    expect(((await createRouter(core).invoke('system:check', { box: 'fresh' })) as { ok: boolean }).ok).toBe(true);
  });

  it('removes the blank root while the box runs: QEMU streams it into what reads it, which then stands alone', { timeout: 240_000 }, async () => {
    await core.images.import({ path: makeInstallerIso(tmp.dir), name: 'installer' });
    const box = await core.boxes.create({ name: 'fresh', image: 'installer', diskSizeGiB: 1 });
    const installedSector = bootImage().subarray(512, 1024);
    await core.vms.start('fresh');
    await waitForSerial(sup().logFile(box.id), 0, INSTALLED_MARKER);
    const root = await core.snapshots.create({ box: 'fresh', name: 'root' });
    const middle = await core.snapshots.create({ box: 'fresh', name: 'middle' });
    // The root's only dependent is a layer below the top: it is reopened read-write for the job.
    await core.snapshots.remove('fresh', 'root');
    expect(fs.existsSync(root.diskPath)).toBe(false);
    const info = JSON.parse(spawnSync('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', middle.diskPath], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
    expect(info['backing-filename']).toBeUndefined();
    expect(firstSector(middle.diskPath).equals(installedSector)).toBe(true);
    // And the layer QEMU writes to: removing "middle" streams it into the top.
    await core.snapshots.remove('fresh', 'middle');
    // Read once QEMU has closed it: a running QEMU may still hold the top's metadata in its cache.
    await core.vms.stop('fresh', { force: true });
    expect(firstSector(box.liveDiskPath).equals(installedSector)).toBe(true);
    qemuImgCheck(box.liveDiskPath);
    const top = JSON.parse(spawnSync('qemu-img', ['info', '--output=json', '-f', 'qcow2', box.liveDiskPath], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
    expect(top['backing-filename']).toBeUndefined();
    expect(((await createRouter(core).invoke('system:check', { box: 'fresh' })) as { ok: boolean }).ok).toBe(true);
  });
});
