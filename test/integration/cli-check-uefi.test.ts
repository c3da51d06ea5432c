// `boxkeep check` on a UEFI box looks at its variables too (the box's and each snapshot's
// copy): missing, the wrong size, a symbolic link; each named with its layer, exit 1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CheckReport } from '../../shared/types.js';
import { openCore } from '../../electron/core/core.js';
import { cleanUpWorldsAfterEach, makeWorld } from '../helpers/crash.js';

cleanUpWorldsAfterEach();
const BIN = path.resolve('bin/boxkeep.mjs');

function boxkeep(home: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--home', home, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('boxkeep check on a UEFI box', () => {
  it('all good when the variables are Boxkeep\'s; names missing, truncated and linked copies', async () => {
    const w = await makeWorld({ firmware: 'uefi' });
    expect(boxkeep(w.home, 'check').code).toBe(0);
    const core = await openCore({ home: w.home, owner: 'test' });
    const file = (name: string) => core.paths.snapshotEfiVars(w.boxId, core.store.findSnapshot(w.boxId, name)!.id);
    const [a, b, live] = [file('a'), file('b'), core.paths.efiVars(w.boxId)];
    await core.close();
    fs.truncateSync(a, 4096);
    const host = path.join(path.dirname(w.home), 'host-vars');
    fs.copyFileSync(b, host);
    fs.rmSync(b);
    fs.symlinkSync(host, b);
    fs.rmSync(live);

    const human = boxkeep(w.home, 'check');
    expect(human.code, human.stderr).toBe(1);
    expect(human.stdout).toMatch(/^3 damaged disk layers \(of 5\):/);
    expect(human.stdout).toMatch(/live\s+Now\s+its UEFI variables \(.*efivars\.fd\): the file is missing/);
    expect(human.stdout).toMatch(/snapshot\s+a\s+its UEFI variables \(.*efivars\.fd\): it is 4096 bytes long, but OVMF's variables are \d+ bytes/);
    expect(human.stdout).toMatch(/snapshot\s+b\s+its UEFI variables \(.*efivars\.fd\): the file is a symbolic link/);
    const report = JSON.parse(boxkeep(w.home, '--json', 'check').stdout) as CheckReport;
    expect(report.boxes[0]!.layers.filter((l) => !l.ok).map((l) => l.name)).toEqual(['Now', 'a', 'b']);
  });
});
