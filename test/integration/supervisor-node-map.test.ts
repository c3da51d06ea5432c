// A running box whose run/nodes.json is gone, garbage or stale (written before a live snapshot
// the owner then took, as an owner killed between a QMP step and the write leaves it): the
// next owner takes control anyway, from QEMU's own block graph, and live snapshots and live
// removes work afterwards with the guest's data intact.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { nodesFile } from '../../electron/core/vm/nodes.js';
import { boot, consoleOf, sh, sharedBootedVm } from '../helpers/vm.js';

const vm = sharedBootedVm(async ({ h, con }) => {
  // Two live snapshots: the chain has q0, q1, q2 layers that no name on disk tells apart.
  await sh(con, 'echo one > /mnt/one; sync');
  await h.core.snapshots.create({ box: 'vm', name: 's1' });
  await sh(con, 'echo two > /mnt/two; sync');
  await h.core.snapshots.create({ box: 'vm', name: 's2' });
});

let round = 0;

/** Lets go of the running box, damages nodes.json, reopens: the new owner must control QEMU. */
async function adoptAfter(damage: (file: string, before: string) => void) {
  const runDir = (vm.h.core.vms as Supervisor).session(vm.h.core.boxes.resolve('vm').id).runDir;
  const file = nodesFile(runDir);
  const before = fs.readFileSync(file, 'utf8');
  // The map as it was one live snapshot ago: stale once the snapshot below is taken.
  const n = ++round;
  await vm.h.core.snapshots.create({ box: 'vm', name: `pre-${n}` });
  vm.con.close();
  await vm.h.core.close();
  damage(file, before);
  const core = await vm.h.reopen();
  const box = core.boxes.resolve('vm');
  expect(box.status).toBe('running');
  expect(core.lastRecovery).not.toBeNull();
  expect(core.lastRecovery!.items.filter((i) => /could not take control/.test(i.message))).toEqual([]);
  vm.con = await consoleOf(core, box.id, { fresh: false });

  // Control means: a live snapshot, and a live remove of a snapshot the guest reads through.
  await sh(vm.con, `echo r${n} > /mnt/r${n}; sync`);
  const s = await core.snapshots.create({ box: 'vm', name: `after-${n}` });
  expect(s.live).toBe(true);
  await sh(vm.con, `echo q${n} > /mnt/q${n}; sync`);
  await core.snapshots.remove('vm', `pre-${n}`);
  await core.snapshots.remove('vm', `after-${n}`);
  for (const f of ['one', 'two', `r${n}`, `q${n}`]) expect(await sh(vm.con, `cat /mnt/${f}`)).toContain(f);
  expect(core.snapshots.tree('vm').snapshots.map((x) => x.name).sort()).toEqual(['s1', 's2']);
}

describe('adopting a running box whose node map file cannot be trusted', () => {
  it('takes control when nodes.json is stale (from before a live snapshot)', async () => {
    await adoptAfter((file, before) => fs.writeFileSync(file, before));
  });

  it('takes control when nodes.json is deleted', async () => {
    await adoptAfter((file) => fs.rmSync(file));
  });

  it('takes control when nodes.json is garbage', async () => {
    await adoptAfter((file) => fs.writeFileSync(file, '{"generation": 7, "top": {"format": "q9", "fi'));
  });

  it('the box still stops cleanly and boots with every file', async () => {
    vm.con.close();
    await vm.h.core.vms.stop('vm', { force: true });
    vm.con = await boot(vm.h.core, 'vm');
    for (const f of ['one', 'two', 'r1', 'q1', 'r2', 'q2', 'r3', 'q3']) expect(await sh(vm.con, `cat /mnt/${f}`)).toContain(f);
  });
});
