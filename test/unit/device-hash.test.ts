// What a snapshot's device hash (vm/devices.ts) covers: the machine the guest sees (memory,
// CPUs, cards, screen, firmware, media), never where its files, sockets or host ports are.
import { describe, expect, it } from 'vitest';
import { deviceHash } from '../../electron/core/vm/devices.js';
import { buildQemuArgs, type QemuSpec } from '../../electron/core/vm/qemu.js';

const spec = (over: Partial<QemuSpec> = {}): QemuSpec => ({
  name: 'box-1', cpus: 1, memoryMib: 128, accel: 'tcg',
  kernel: '/home/u/.boxkeep/images/i1/vmlinuz', initrd: '/home/u/.boxkeep/images/i1/initrd.gz',
  liveDisk: '/home/u/.boxkeep/boxes/ab12/disks/container.qcow2', runDir: '/home/u/.boxkeep/boxes/ab12/run',
  logFile: '/home/u/.boxkeep/boxes/ab12/logs/serial.log',
  network: { mac: '52:54:00:12:34:56', forwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 }] },
  ...over,
});
const hash = (over: Partial<QemuSpec> = {}) => deviceHash(buildQemuArgs(spec(over)));

describe('the device hash of a snapshot with memory', () => {
  it('is the same wherever the home, the run folder, the images and the host ports are', () => {
    const moved = hash({
      kernel: '/mnt/other/images/i1/vmlinuz', initrd: '/mnt/other/images/i1/initrd.gz',
      liveDisk: '/mnt/other/boxes/ab12/disks/container.qcow2', runDir: '/tmp/bk-run-1', logFile: '/mnt/other/serial.log',
      network: { mac: '52:54:00:12:34:56', forwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 9090, guestPort: 80 }] },
      incoming: true,
    });
    expect(moved).toBe(hash());
  });

  it('changes with the memory size, the CPUs, the network card, the screen, the firmware and the media', () => {
    const base = hash();
    for (const over of [
      { memoryMib: 160 }, { cpus: 2 }, { network: null }, { display: 'vnc' as const },
      { firmware: { code: '/fw/code.fd', vars: '/fw/vars.fd' } }, { installer: '/i/debian.iso' }, { seed: '/s/seed.iso' },
      { kernel: undefined, initrd: undefined, append: undefined },
    ]) expect(hash(over), JSON.stringify(over)).not.toBe(base);
  });
});
