// The kernel and initrd a start boots are the files it checked and holds: QEMU gets them as
// inherited fds (-kernel /proc/self/fd/3), not by path, so a file swapped in at the path
// between the check and QEMU's read (and maybe swapped back before anyone looks) is never read.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Supervisor } from '../../electron/core/vm/supervisor.js';
import { processArgs } from '../../electron/core/vm/devices.js';
import { rejection } from '../helpers/errors.js';
import { boot, sh, sharedBootedVm } from '../helpers/vm.js';

const vm = sharedBootedVm();

const valueOf = (args: string[], option: string) => args[args.indexOf(option) + 1];

describe('the kernel and initrd QEMU boots are the files Boxkeep checked and holds', () => {
  it('QEMU reads them through the files held since the check (its fds 3 and 4), and the guest boots from them', async () => {
    const box = vm.h.core.boxes.resolve('vm');
    const image = vm.h.core.store.getImage(box.imageId!)!;
    const pid = (vm.h.core.vms as Supervisor).session(box.id).pid;
    const args = processArgs(pid);
    expect(valueOf(args, '-kernel')).toBe('/proc/self/fd/3');
    expect(valueOf(args, '-initrd')).toBe('/proc/self/fd/4');
    expect(fs.statSync(`/proc/${pid}/fd/3`).ino).toBe(fs.statSync(image.kernelPath!).ino);
    expect(fs.statSync(`/proc/${pid}/fd/4`).ino).toBe(fs.statSync(image.initrdPath!).ino);
    expect((await sh(vm.con, 'echo alive')).trim()).toBe('alive');
  }, 120_000);

  it('a kernel swapped for another file after the check is never read: QEMU loads the checked one, the start is refused, the box stays stopped', async () => {
    vm.con.close();
    await vm.h.core.vms.stop('vm', { force: false });
    const box = vm.h.core.boxes.resolve('vm');
    const kernel = vm.h.core.store.getImage(box.imageId!)!.kernelPath!;
    const real = `${kernel}.real`;
    // Stands in for the race: the swap runs after Boxkeep checked (and pinned) the kernel, right
    // before QEMU starts; only on the real start, not on `--version`.
    const wrapper = path.join(path.dirname(vm.h.dir), 'qemu-swap.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *-blockdev*) mv '${kernel}' '${real}'; printf 'not the kernel Boxkeep checked' > '${kernel}';; esac\nexec qemu-system-x86_64 "$@"\n`, { mode: 0o755 });
    const normal = vm.h.core.vms;
    const swapping = new Supervisor(vm.h.core, { qemuBinary: wrapper });
    vm.h.core.vms = swapping;
    const qemuLog = path.join(vm.h.core.paths.logsDir(box.id), 'qemu.log');
    try {
      const err = await rejection(swapping.start('vm'));
      expect(err.code, err.message).toBe('Storage');
      expect(err.message).toContain(`${kernel} (another file lies there now)`);
    } finally {
      vm.h.core.vms = normal;
    }
    // QEMU loaded a kernel without complaint (the file it read was the held one, not the bytes
    // at the path, which QEMU refuses as "could not load kernel"), and was stopped for the swap.
    const thisStart = fs.readFileSync(qemuLog, 'utf8').split(/^--- .* starting /m).at(-1)!;
    expect(thisStart).not.toMatch(/kernel/i);
    expect(vm.h.core.boxes.resolve('vm').status).toBe('stopped');
    expect(vm.h.core.boxes.resolve('vm').failureReason).toBeNull();
    expect(swapping.sessions.has(box.id)).toBe(false);

    // Put back, the box starts and boots as before.
    fs.rmSync(kernel);
    fs.renameSync(real, kernel);
    vm.con = await boot(vm.h.core, 'vm');
    expect((await sh(vm.con, 'echo alive')).trim()).toBe('alive');
  }, 180_000);
});
