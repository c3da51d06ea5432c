import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HomePaths } from '../../electron/core/paths.js';
import {
  buildQemuArgs, runDirFor, isSameProcess, readBootId, processStartTime, qemuVersion,
  MAX_SOCKET_PATH, type QemuSpec, type QemuFingerprint,
} from '../../electron/core/vm/qemu.js';
import { generationNodes } from '../../electron/core/vm/nodes.js';

const spec = (over: Partial<QemuSpec> = {}): QemuSpec => ({
  name: 'box-1',
  cpus: 1,
  memoryMib: 128,
  accel: 'tcg',
  kernel: '/k/vmlinuz',
  initrd: '/k/initrd.gz',
  liveDisk: '/home/u/boxes/ab12/disks/container.qcow2',
  runDir: '/home/u/boxes/ab12/run',
  logFile: '/home/u/boxes/ab12/logs/serial.log',
  ...over,
});

/** The value following a flag, for flags that appear once. */
const valueOf = (args: string[], flag: string) => {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
};
const valuesOf = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
/** Every box has the guest agent's port (its own test below); the device lists here are about the rest. */
const notAgent = (device: string) => !device.startsWith('virtio-serial-pci') && !device.startsWith('virtserialport');

describe('buildQemuArgs', () => {
  it('gives every box the guest agent port on qga.sock in the run folder, and no TCP', () => {
    const args = buildQemuArgs(spec());
    expect(valuesOf(args, '-device')).toEqual(expect.arrayContaining(['virtio-serial-pci,id=vserial0', 'virtserialport,bus=vserial0.0,chardev=qga0,name=org.qemu.guest_agent.0']));
    expect(valuesOf(args, '-chardev')).toContain('socket,id=qga0,path=/home/u/boxes/ab12/run/qga.sock,server=on,wait=off');
    expect(args.join(' ')).not.toMatch(/tcp:|host=/);
  });

  it('launches headless, without default devices, and never reboots', () => {
    const args = buildQemuArgs(spec());
    expect(args).toEqual(expect.arrayContaining(['-nodefaults', '-no-reboot']));
    expect(valueOf(args, '-display')).toBe('none');
    expect(valueOf(args, '-m')).toBe('128');
    expect(valueOf(args, '-smp')).toBe('1');
    expect(valueOf(args, '-pidfile')).toBe('/home/u/boxes/ab12/run/qemu.pid');
  });

  it('uses a trimmed TCG code buffer under tcg and the host CPU under kvm', () => {
    expect(valueOf(buildQemuArgs(spec()), '-accel')).toBe('tcg,tb-size=32');
    const kvm = buildQemuArgs(spec({ accel: 'kvm' }));
    expect(valueOf(kvm, '-accel')).toBe('kvm');
    expect(valueOf(kvm, '-cpu')).toBe('host');
  });

  it('puts the serial console on a socket with a log and QMP on a socket in the run folder', () => {
    const args = buildQemuArgs(spec());
    expect(valueOf(args, '-chardev')).toBe(
      'socket,id=ser0,path=/home/u/boxes/ab12/run/serial.sock,server=on,wait=off,logfile=/home/u/boxes/ab12/logs/serial.log,logappend=on',
    );
    expect(valueOf(args, '-serial')).toBe('chardev:ser0');
    expect(valueOf(args, '-qmp')).toBe('unix:/home/u/boxes/ab12/run/qmp.sock,server=on,wait=off');
  });

  it('opens the live disk as separate named file and qcow2 nodes behind one virtio-blk device', () => {
    const args = buildQemuArgs(spec());
    const [file, format] = valuesOf(args, '-blockdev').map((j) => JSON.parse(j));
    expect(file).toEqual({ driver: 'file', filename: '/home/u/boxes/ab12/disks/container.qcow2', 'node-name': 'f0' });
    // The qcow2 node refers to the file node by name: an inline file child would be
    // reopened by path after a live snapshot renames the disk.
    expect(format).toEqual({ driver: 'qcow2', file: 'f0', 'node-name': 'q0' });
    expect(valueOf(args, '-device')).toBe('virtio-blk-pci,drive=q0,id=vd0');
    expect(generationNodes(3)).toEqual({ file: 'f3', format: 'q3' });
  });

  it('boots the kernel with a serial console command line, or the disk when there is no kernel', () => {
    const direct = buildQemuArgs(spec());
    expect(valueOf(direct, '-kernel')).toBe('/k/vmlinuz');
    expect(valueOf(direct, '-initrd')).toBe('/k/initrd.gz');
    expect(valueOf(direct, '-append')).toBe('console=ttyS0 panic=-1 quiet');
    expect(valueOf(buildQemuArgs(spec({ append: 'console=ttyS0 rw' })), '-append')).toBe('console=ttyS0 rw');

    const fromDisk = buildQemuArgs(spec({ kernel: undefined, initrd: undefined }));
    expect(fromDisk).not.toContain('-kernel');
    expect(fromDisk).not.toContain('-append');
    expect(valueOf(fromDisk, '-device')).toBe('virtio-blk-pci,drive=q0,id=vd0,bootindex=0');
  });

  it('gives a UEFI box OVMF as two raw flash nodes, the code read-only, and a BIOS box none', () => {
    const fw = { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/home/u/boxes/ab12/disks/efivars.fd' };
    const args = buildQemuArgs(spec({ firmware: fw }));
    const nodes = valuesOf(args, '-blockdev').map((b) => JSON.parse(b!) as Record<string, unknown>);
    expect(nodes).toContainEqual({ driver: 'file', filename: fw.code, 'node-name': 'ovmf-code-file', 'read-only': true });
    expect(nodes).toContainEqual({ driver: 'raw', file: 'ovmf-code-file', 'node-name': 'ovmf-code', 'read-only': true });
    expect(nodes).toContainEqual({ driver: 'file', filename: fw.vars, 'node-name': 'ovmf-vars-file' });
    expect(nodes).toContainEqual({ driver: 'raw', file: 'ovmf-vars-file', 'node-name': 'ovmf-vars' });
    expect(valuesOf(args, '-machine')).toEqual(['pflash0=ovmf-code,pflash1=ovmf-vars']);
    expect(buildQemuArgs(spec()).join(' ')).not.toMatch(/pflash|ovmf/);
    expect(() => buildQemuArgs(spec({ firmware: { ...fw, vars: 'efivars.fd' } }))).toThrow(/absolute/);
  });

  it('attaches installer media as a read-only raw CD-ROM booted before the disk, and nothing without one', () => {
    const iso = '/home/u/images/cd12/installer.iso';
    const args = buildQemuArgs(spec({ kernel: undefined, initrd: undefined, installer: iso }));
    const nodes = valuesOf(args, '-blockdev').map((b) => JSON.parse(b!) as Record<string, unknown>);
    expect(nodes).toContainEqual({ driver: 'file', filename: iso, 'node-name': 'installer-file', 'read-only': true });
    expect(nodes).toContainEqual({ driver: 'raw', file: 'installer-file', 'node-name': 'installer', 'read-only': true });
    expect(valuesOf(args, '-device').filter(notAgent)).toEqual(['virtio-blk-pci,drive=q0,id=vd0,bootindex=1', 'ide-cd,drive=installer,id=cd0,bootindex=0']);
    expect(buildQemuArgs(spec({ kernel: undefined, initrd: undefined })).join(' ')).not.toMatch(/ide-cd|installer/);
    expect(() => buildQemuArgs(spec({ installer: 'installer.iso' }))).toThrow(/absolute/);
  });

  it('attaches a cloud-init seed as a second read-only raw CD-ROM, never booted, beside an installer', () => {
    const iso = '/home/u/images/cd12/installer.iso';
    const seed = '/home/u/boxes/ab12/seed.iso';
    const args = buildQemuArgs(spec({ kernel: undefined, initrd: undefined, installer: iso, seed }));
    const nodes = valuesOf(args, '-blockdev').map((j) => JSON.parse(j!));
    expect(nodes).toContainEqual({ driver: 'file', filename: seed, 'node-name': 'seed-file', 'read-only': true });
    expect(nodes).toContainEqual({ driver: 'raw', file: 'seed-file', 'node-name': 'seed', 'read-only': true });
    // Every node name once: the seed's clash with neither the chain's nor the installer's.
    const names = nodes.map((n) => n['node-name']);
    expect(new Set(names).size).toBe(names.length);
    expect(valuesOf(args, '-device').filter(notAgent)).toEqual(['virtio-blk-pci,drive=q0,id=vd0,bootindex=1', 'ide-cd,drive=installer,id=cd0,bootindex=0', 'ide-cd,drive=seed,id=cd-seed']);
    expect(buildQemuArgs(spec()).join(' ')).not.toMatch(/seed/);
    expect(() => buildQemuArgs(spec({ seed: 'seed.iso' }))).toThrow(/absolute/);
  });

  it('gives a vnc box a VGA card, a USB tablet and VNC on a shared unix socket in the run folder, and keeps -display none', () => {
    const args = buildQemuArgs(spec({ kernel: undefined, initrd: undefined, display: 'vnc' }));
    expect(valueOf(args, '-display')).toBe('none');
    expect(valuesOf(args, '-device')).toEqual(expect.arrayContaining(['VGA,id=video0', 'qemu-xhci,id=usb0', 'usb-tablet,bus=usb0.0,id=tablet0']));
    expect(valueOf(args, '-vnc')).toBe('unix:/home/u/boxes/ab12/run/vnc.sock,share=ignore');
    expect(valueOf(buildQemuArgs(spec({ runDir: '/r,x', display: 'vnc' })), '-vnc')).toBe('unix:/r,,x/vnc.sock,share=ignore');
    // No TCP anywhere: no host:display form, no websocket, no "to=" port range.
    expect(args.join(' ')).not.toMatch(/-vnc [^u]|websocket|:5900|to=/);
  });

  it('gives a box without a display no screen devices and no VNC', () => {
    const args = buildQemuArgs(spec());
    expect(args).not.toContain('-vnc');
    expect(args.join(' ')).not.toMatch(/VGA|usb-tablet|qemu-xhci|vnc/);
  });

  it('doubles commas in option values and keeps paths with quotes intact in JSON', () => {
    const args = buildQemuArgs(spec({ runDir: '/r,x', logFile: '/l,og/serial.log', liveDisk: '/d"i,sk.qcow2', name: 'a,b' }));
    expect(valueOf(args, '-chardev')).toContain('path=/r,,x/serial.sock');
    expect(valueOf(args, '-chardev')).toContain('logfile=/l,,og/serial.log');
    expect(valueOf(args, '-qmp')).toBe('unix:/r,,x/qmp.sock,server=on,wait=off');
    expect(valueOf(args, '-name')).toBe('guest=a,,b');
    expect(JSON.parse(valuesOf(args, '-blockdev')[0]).filename).toBe('/d"i,sk.qcow2');
  });

  it('refuses a relative disk, bad sizes, an initrd without kernel, and socket paths over 107 bytes', () => {
    expect(() => buildQemuArgs(spec({ liveDisk: 'disk.qcow2' }))).toThrow(/absolute/);
    expect(() => buildQemuArgs(spec({ cpus: 0 }))).toThrow(/cpus/);
    expect(() => buildQemuArgs(spec({ memoryMib: 1.5 }))).toThrow(/memoryMib/);
    expect(() => buildQemuArgs(spec({ kernel: undefined }))).toThrow(/initrd needs a kernel/);
    expect(() => buildQemuArgs(spec({ runDir: '/' + 'x'.repeat(100) }))).toThrow(/longer than 107 bytes.*runDirFor/);
    // The longest socket name decides: a folder that fits vnc.sock and qmp.sock but not serial.sock is refused.
    expect(() => buildQemuArgs(spec({ runDir: '/' + 'x'.repeat(106 - '/serial.sock'.length), display: 'vnc' }))).not.toThrow();
    expect(() => buildQemuArgs(spec({ runDir: '/' + 'x'.repeat(107 - '/serial.sock'.length), display: 'vnc' }))).toThrow(/serial\.sock is longer/);
  });
});

describe('runDirFor', () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const home = (length: number) => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'bkr-'));
    made.push(base);
    return new HomePaths(path.join(base, 'h'.repeat(Math.max(1, length - base.length - 1))));
  };

  it('keeps the run folder inside the home when its sockets fit', () => {
    const paths = home(30);
    const dir = runDirFor(paths, 'ab12cd34');
    expect(dir).toBe(paths.runDir('ab12cd34'));
    expect(fs.statSync(dir).isDirectory()).toBe(true);
  });

  it('moves to a private short folder under the temp dir when the home path is too long', () => {
    const paths = home(120);
    const boxId = `b${process.pid}x${Date.now().toString(16)}`;
    expect(Buffer.byteLength(path.join(paths.runDir(boxId), 'serial.sock'))).toBeGreaterThan(MAX_SOCKET_PATH);
    const dir = runDirFor(paths, boxId);
    made.push(dir);
    const uid = process.getuid!();
    expect(path.dirname(dir)).toBe(path.join(os.tmpdir(), `bk-${uid}`));
    expect(path.basename(dir)).toMatch(new RegExp(`^[0-9a-f]{12}-${boxId}$`));
    expect(Buffer.byteLength(path.join(dir, 'serial.sock'))).toBeLessThanOrEqual(MAX_SOCKET_PATH);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.dirname(dir)).mode & 0o777).toBe(0o700);
  });

  it('gives a copy of the home (another path, the same box ids) a folder of its own', () => {
    const boxId = `d${process.pid}x${Date.now().toString(16)}`;
    const original = runDirFor(home(120), boxId);
    const copy = runDirFor(home(121), boxId);
    made.push(original, copy);
    expect(copy).not.toBe(original);
    expect(path.dirname(copy)).toBe(path.dirname(original));
  });

  it('gives a later process the same folder without creating anything', () => {
    const paths = home(120);
    const boxId = `c${process.pid}x${Date.now().toString(16)}`;
    const later = runDirFor(new HomePaths(paths.root), boxId, { create: false });
    expect(fs.existsSync(later)).toBe(false);
    const first = runDirFor(paths, boxId);
    made.push(first);
    expect(later).toBe(first);
    expect(runDirFor(paths, boxId)).toBe(first);
  });

  it('picks the boundary exactly: 107 bytes fit, 108 do not', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'bkr-'));
    made.push(base);
    const boxId = 'edge';
    // runDir(boxId) = <root>/boxes/edge/run, socket = <runDir>/serial.sock
    const suffix = `/boxes/${boxId}/run/serial.sock`.length;
    const rootFor = (total: number) => path.join(base, 'h'.repeat(total - suffix - base.length - 1));
    expect(runDirFor(new HomePaths(rootFor(107)), boxId, { create: false })).toBe(new HomePaths(rootFor(107)).runDir(boxId));
    expect(runDirFor(new HomePaths(rootFor(108)), boxId, { create: false })).not.toContain(base);
  });

  it('refuses a temp folder made by someone else', () => {
    // Only root can make a folder owned by another user: run the suite as root (as CI does).
    if (process.getuid!() !== 0) throw new Error('this test must run as root (it makes a folder owned by another user)');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bkt-'));
    made.push(tmp);
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      fs.mkdirSync(path.join(tmp, 'bk-0'), { mode: 0o777 });
      fs.chownSync(path.join(tmp, 'bk-0'), 65534, 65534);
      expect(() => runDirFor(home(150), 'squat')).toThrow(/not a folder owned by this user/);
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
  });
});

describe('isSameProcess', () => {
  const self = (): QemuFingerprint => ({
    pid: process.pid,
    startTime: processStartTime(process.pid)!,
    bootId: readBootId(),
    startedAt: Date.now(),
    qmpSocket: '/x/qmp.sock',
    serialSocket: '/x/serial.sock',
  });

  it('recognises a live process by pid, start time and boot id', () => {
    expect(isSameProcess(self())).toBe(true);
  });

  it('says no to a recycled pid, another boot, or a pid that is gone', () => {
    expect(isSameProcess({ ...self(), startTime: String(Number(self().startTime) + 1) })).toBe(false);
    expect(isSameProcess({ ...self(), bootId: '00000000-0000-0000-0000-000000000000' })).toBe(false);
    expect(isSameProcess({ ...self(), pid: 2 ** 22 + 1 })).toBe(false);
    expect(isSameProcess({ ...self(), pid: -1 })).toBe(false);
  });
});

describe('qemuVersion', () => {
  it('says how to install QEMU when the binary is missing', async () => {
    await expect(qemuVersion('/nonexistent/qemu-system-x86_64')).rejects.toThrow(
      'qemu-system-x86_64 was not found; install it with: sudo apt-get install qemu-system-x86',
    );
  });
});
