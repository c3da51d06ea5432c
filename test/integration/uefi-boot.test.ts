// A UEFI box boots the tiny guest through OVMF (direct kernel boot: OVMF loads the kernel
// from QEMU's fw_cfg), and its firmware variables are part of its state: the guest writes a
// variable through efivarfs, a live snapshot keeps the variables, the guest writes another,
// and a restore puts the snapshot's copy back, byte for byte, as the next boot shows. Two
// boots in all: OVMF under TCG takes several times the BIOS boot (measured in the log).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { rejection } from '../helpers/errors.js';
import { boot, sh, type VmHome, openVmHome } from '../helpers/vm.js';
import type { SerialDriver } from '../helpers/guest.js';

const GUID = '3a1f0c9e-5d2b-4c7a-9e11-b0c5ee9a1234';
const efivar = (name: string) => `/sys/firmware/efi/efivars/${name}-${GUID}`;
/** efivarfs takes 4 bytes of attributes (non-volatile, boot and runtime access) and the data. */
const writeVar = (name: string, data: string) => `printf '\\007\\000\\000\\000${data}' > ${efivar(name)}`;

let h: VmHome;
let con: SerialDriver;
let boxId: string;
const bootMs: number[] = [];

async function timedBoot(): Promise<SerialDriver> {
  const started = performance.now();
  const driver = await boot(h.core, 'efi');
  bootMs.push(Math.round(performance.now() - started));
  return driver;
}

beforeAll(async () => {
  h = await openVmHome();
  boxId = (await h.core.boxes.create({ name: 'efi', image: 'tiny', firmware: 'uefi' })).id;
  con = await timedBoot();
}, 180_000);
afterAll(async () => {
  con?.close();
  // Printed for the record (bench/ has the numbers that count): start to ready line, through OVMF.
  if (bootMs.length) console.log(`UEFI boot under TCG, start to ready line: ${bootMs.join(' ms, ')} ms`);
  await h?.cleanup();
});

describe('a UEFI box', () => {
  it('boots through OVMF: the firmware clears the serial screen before the kernel, and the guest runs on EFI from EDK II', async () => {
    const log = fs.readFileSync((h.core.vms as Supervisor).logFile(boxId), 'latin1');
    // OVMF's serial terminal set-up comes before anything the kernel prints.
    expect(log.indexOf('\x1b[2J\x1b[01;01H')).toBe(0);
    expect(await sh(con, 'dmesg | grep -m1 "EFI v"')).toMatch(/efi: EFI v[\d.]+ by EDK II/);
    expect(await sh(con, 'mount | grep -c efivarfs')).toMatch(/1/);
    expect(fs.statSync(h.core.paths.efiVars(boxId)).size).toBe(fs.statSync('/usr/share/OVMF/OVMF_VARS_4M.fd').size);
  });

  it('change a variable, snapshot while running, change them again, restore: the snapshot\'s copy of the variables is back', async () => {
    await sh(con, writeVar('BoxkeepFirst', 'BOXKEEP-FIRST'));
    const snap = await h.core.snapshots.create({ box: 'efi', name: 'with-first' });
    expect(snap.live).toBe(true);
    const kept = fs.readFileSync(h.core.paths.snapshotEfiVars(boxId, snap.id));
    expect(kept.includes('BOXKEEP-FIRST')).toBe(true);
    // A created variable is immutable in efivarfs (and busybox has no chattr): the second
    // change to the variables is a second variable.
    await sh(con, writeVar('BoxkeepSecond', 'BOXKEEP-SECOND'));
    expect(fs.readFileSync(h.core.paths.efiVars(boxId)).includes('BOXKEEP-SECOND')).toBe(true);
    con.close();
    await h.core.vms.stop(boxId, { force: true });

    await h.core.snapshots.restore({ box: 'efi', snapshot: 'with-first' });
    const live = fs.readFileSync(h.core.paths.efiVars(boxId));
    expect(live.equals(fs.readFileSync(h.core.paths.snapshotEfiVars(boxId, snap.id)))).toBe(true);
    expect(live.includes('BOXKEEP-SECOND')).toBe(false);

    con = await timedBoot();
    expect(await sh(con, `tail -c +5 ${efivar('BoxkeepFirst')}`)).toContain('BOXKEEP-FIRST');
    expect(await sh(con, `ls ${path.dirname(efivar('x'))} | grep -c Boxkeep || true`)).toMatch(/^1\s*$/m);
  }, 240_000);

  it('refuses to start when its variables file was replaced by a link to a host file, or has the wrong size', async () => {
    con.close();
    await h.core.vms.stop(boxId, { force: true });
    const vars = h.core.paths.efiVars(boxId);
    const saved = `${vars}.saved`;
    fs.renameSync(vars, saved);
    try {
      fs.symlinkSync('/etc/hostname', vars);
      const linked = await rejection(h.core.vms.start(boxId));
      expect(linked.code).toBe('Storage');
      expect(linked.message).toMatch(/UEFI variables of the box "efi".*symbolic link.*did not start/);
      fs.rmSync(vars);
      fs.writeFileSync(vars, Buffer.alloc(4096));
      const small = await rejection(h.core.vms.start(boxId));
      expect(small.message).toMatch(/4096 bytes long, but OVMF's variables are \d+ bytes/);
      expect(h.core.store.getBox(boxId)!.status).not.toBe('running');
    } finally {
      fs.rmSync(vars, { force: true });
      fs.renameSync(saved, vars);
    }
  });

  it('deleting the snapshot deletes its copy of the variables', async () => {
    const snap = h.core.snapshots.get('efi', 'with-first');
    await h.core.snapshots.remove('efi', 'with-first');
    expect(fs.existsSync(h.core.paths.snapshotEfiVars(boxId, snap.id))).toBe(false);
    expect(fs.existsSync(h.core.paths.efiVars(boxId))).toBe(true);
  });

  it('is not made when OVMF is missing: the error names the package, and nothing is left behind', async () => {
    const before = fs.readdirSync(h.core.paths.boxesDir).length;
    process.env.BOXKEEP_OVMF_DIR = path.join(h.dir, 'no-ovmf-here');
    try {
      const err = await rejection(h.core.boxes.create({ name: 'efi2', image: 'tiny', firmware: 'uefi' }));
      expect(err.message).toMatch(/OVMF_CODE_4M\.fd is missing; install it with: sudo apt-get install ovmf/);
    } finally {
      delete process.env.BOXKEEP_OVMF_DIR;
    }
    expect(h.core.store.findBox('efi2')).toBeNull();
    expect(fs.readdirSync(h.core.paths.boxesDir).length).toBe(before);
  });
});
