// A test's temporary home is removed by tempHome().cleanup(); a QEMU a failed test left behind
// (paused at -S, as the supervisor starts every box) must die with it, not run on orphaned.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HomePaths } from '../../electron/core/paths.js';
import { isSameProcess, type ProcessFingerprint } from '../../electron/core/proc.js';
import { FINGERPRINT_FILE, runDirFor, spawnQemu } from '../../electron/core/vm/qemu.js';
import type { Box } from '../../shared/types.js';
import { cliOk } from '../helpers/cli.js';
import { makeQcow2, requireTools, tempHome } from '../helpers/disk.js';

let started: ProcessFingerprint[] = [];

beforeAll(() => requireTools('qemu-img', 'qemu-system-x86_64'));

// Should cleanup() not kill it, the test fails, and this still does.
afterEach(() => {
  for (const fp of started) if (isSameProcess(fp)) process.kill(fp.pid, 'SIGKILL');
  started = [];
});

/** A home with one box made by the CLI, and a QEMU for it started paused the way the supervisor starts one. */
async function homeWithPausedQemu(): Promise<{ tmp: ReturnType<typeof tempHome>; runDir: string; qemu: ProcessFingerprint }> {
  const tmp = tempHome('bkleft');
  const home = path.join(tmp.dir, 'h');
  makeQcow2(path.join(tmp.dir, 'seed.qcow2'), '16M');
  cliOk(home, ['image', 'import', path.join(tmp.dir, 'seed.qcow2'), '--name', 'seed']);
  const box = cliOk<Box>(home, ['box', 'create', 'b', '--image', 'seed']);
  const paths = new HomePaths(home);
  const runDir = runDirFor(paths, box.id);
  const spawned = await spawnQemu({ name: 'b', cpus: 1, memoryMib: 64, accel: 'tcg', liveDisk: paths.liveDisk(box.id), runDir, logFile: path.join(paths.logsDir(box.id), 'serial.log'), startPaused: true });
  started.push(spawned.fingerprint);
  // QEMU writes its pidfile once it is up; wait for it, as a later process would find it.
  for (const deadline = Date.now() + 30_000; !fs.existsSync(path.join(runDir, 'qemu.pid')); ) {
    if (Date.now() > deadline) throw new Error('QEMU wrote no pidfile within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { tmp, runDir, qemu: spawned.fingerprint };
}

describe('tempHome().cleanup()', () => {
  it('kills the QEMU recorded in a home\'s run folder (qemu.json) before removing the home', async () => {
    const { tmp, qemu } = await homeWithPausedQemu();
    expect(isSameProcess(qemu)).toBe(true);
    tmp.cleanup();
    expect(isSameProcess(qemu)).toBe(false);
    expect(fs.existsSync(tmp.dir)).toBe(false);
  });

  it('kills it by its pidfile when its owner died before writing qemu.json', async () => {
    const { tmp, runDir, qemu } = await homeWithPausedQemu();
    fs.rmSync(path.join(runDir, FINGERPRINT_FILE));
    tmp.cleanup();
    expect(isSameProcess(qemu)).toBe(false);
    expect(fs.existsSync(tmp.dir)).toBe(false);
  });

  it('leaves alone a QEMU another home runs, even when a copy of that home records it (qemu.json and qemu.pid copied)', async () => {
    const { tmp, qemu } = await homeWithPausedQemu();
    const copy = tempHome('bkcopy');
    try {
      fs.cpSync(path.join(tmp.dir, 'h'), path.join(copy.dir, 'h'), { recursive: true, filter: (src) => !src.endsWith('.sock') });
      copy.cleanup();
      expect(fs.existsSync(copy.dir)).toBe(false);
      expect(isSameProcess(qemu), 'the QEMU of the home that was copied must still run').toBe(true);
    } finally {
      copy.cleanup();
      tmp.cleanup();
    }
    expect(isSameProcess(qemu)).toBe(false);
  });
});
