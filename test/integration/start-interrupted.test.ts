// `box start` killed after it spawned QEMU and before it finished: the QEMU it left behind is
// known to every later command (adopted or stopped), never a process nothing controls while
// offline operations freeze the disks it holds open.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box } from '../../shared/types.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { BIN, cliOk, cliSync } from '../helpers/cli.js';
import { createTinyGuestBox } from '../helpers/guest.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
let box: Box;
const ENV = { BOXKEEP_STOP_TIMEOUT_MS: '1500' };
const boxkeep = (...args: string[]) => cliSync(home, args, ENV);
const ok = <T>(...args: string[]) => cliOk<T>(home, args, ENV);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(() => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox');
  tmp = tempHome('bksi');
  home = path.join(tmp.dir, 'h');
  box = createTinyGuestBox<Box>(ok, tmp.dir, 'vm');
});
afterAll(() => {
  boxkeep('box', 'stop', 'vm', '--force');
  tmp?.cleanup();
});

describe('box start killed half way', () => {
  it('leaves a QEMU the next command knows about: the box is busy, offline snapshots wait, a forced stop ends it', async () => {
    const fingerprint = path.join(home, 'boxes', box.id, 'run', 'qemu.json');
    const starter = spawn(process.execPath, [BIN, '--home', home, 'box', 'start', 'vm'], { stdio: 'ignore' });
    // The moment QEMU exists (its fingerprint is written right after the spawn), kill the starter.
    for (const deadline = Date.now() + 60_000; !fs.existsSync(fingerprint); ) {
      if (Date.now() > deadline) throw new Error('box start never spawned QEMU');
      await new Promise((r) => setTimeout(r, 5));
    }
    starter.kill('SIGKILL');
    await new Promise((r) => starter.once('exit', r));
    const pid = (JSON.parse(fs.readFileSync(fingerprint, 'utf8')) as { pid: number }).pid;
    expect(alive(pid)).toBe(true);

    const seen = ok<Box>('box', 'show', 'vm');
    if (seen.status === 'stopped') {
      // Killed before its `cont` (its checks may not all have run): the next command quit that
      // QEMU rather than adopt it (start-crash.test.ts); an offline snapshot is then safe.
      for (const deadline = Date.now() + 10_000; alive(pid) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      expect(alive(pid), 'the QEMU of an interrupted start is quit before the box shows stopped').toBe(false);
      expect(ok<{ live: boolean }>('snapshot', 'create', 'vm', 'while-held').live).toBe(false);
      return;
    }
    // Killed after its `cont`: the guest runs, adopted by the next command.
    expect(['running', 'paused']).toContain(seen.status);
    // The guest's disk is held by that QEMU: an offline snapshot must not freeze it under it.
    const snap = ok<{ live: boolean }>('snapshot', 'create', 'vm', 'while-held');
    expect(snap.live).toBe(true);

    expect(ok<Box>('box', 'stop', 'vm', '--force').status).toBe('stopped');
    for (const deadline = Date.now() + 10_000; alive(pid) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
  });
});
