// UEFI (issue 12): box start to guest ready through OVMF beside the same guest through SeaBIOS
// (the floor), and the live snapshot pause window of a UEFI box beside a BIOS box's (the UEFI
// one copies the variables, ~540 KiB, before the pause and only compares them while paused). Real QEMU under TCG, tiny guest.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { guest, requireBuilt, row, tempDir, waitReady } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BOOTS = 3;
const SNAPSHOTS = 10;

/** Boots the box BOOTS times (start to ready line), then takes SNAPSHOTS live snapshots; returns both samples. */
async function measure(core, name, pauses) {
  const box = core.boxes.resolve(name);
  const log = core.vms.logFile(box.id);
  const boots = [];
  for (let i = 0; i < BOOTS; i++) {
    const from = fs.existsSync(log) ? fs.statSync(log).size : 0;
    const t0 = performance.now();
    await core.vms.start(name);
    await waitReady(log, from);
    boots.push(performance.now() - t0);
    if (i < BOOTS - 1) await core.vms.stop(name, { force: true });
  }
  pauses.length = 0;
  for (let i = 0; i < SNAPSHOTS; i++) await core.snapshots.create({ box: name, name: `p${i}` });
  await core.vms.stop(name, { force: true });
  return { boots, pauses: [...pauses] };
}

export async function uefiBenchmarks() {
  const g = guest();
  const dir = tempDir('bkuefi-');
  const pauses = [];
  const logger = { info: (m, f) => { if (m === 'live snapshot stall') pauses.push(f.stall_ms); }, warn() {}, error() {} };
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', logger, supervisor: { stopTimeoutMs: 1000 } });
  try {
    const data = path.join(dir, 'd.qcow2');
    execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs'), '--data-disk', data, '--size', '32M']);
    await core.images.import({ path: data, name: 'tiny', kernelPath: g.kernel, initrdPath: g.initrd, append: 'console=ttyS0 panic=-1 quiet' });
    await core.boxes.create({ name: 'bios', image: 'tiny' });
    await core.boxes.create({ name: 'uefi', image: 'tiny', firmware: 'uefi' });
    const bios = await measure(core, 'bios', pauses);
    const uefi = await measure(core, 'uefi', pauses);
    return [
      row(`UEFI box start to guest ready (OVMF, TCG; floor: SeaBIOS), median of ${BOOTS}`, uefi.boots, bios.boots, 'report'),
      row(`UEFI live snapshot stall (the switch), variables compared after it (floor: BIOS box), median of ${SNAPSHOTS}`, uefi.pauses, bios.pauses, 'under 10 ms'),
    ];
  } finally {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
