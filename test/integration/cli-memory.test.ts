// Snapshots with memory through the real CLI and a real guest: --memory on a running box, what
// `snapshot show` says of it, --memory refused on a stopped box and beside --no-memory, and a
// restore that leaves the box running with the guest's shell variable as it was.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, RestoreResult, Snapshot } from '../../shared/types.js';
import { BIN, cliOk, cliSync } from '../helpers/cli.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { createTinyGuestBox, SerialDriver, startAndAttach } from '../helpers/guest.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
let box: Box;
let serial: SerialDriver | null = null;
const ok = <T>(...args: string[]) => cliOk<T>(home, args);
const text = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, '--home', home, ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const runDir = () => path.join(home, 'boxes', box.id, 'run');

beforeAll(async () => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox');
  tmp = tempHome('bkcm');
  home = path.join(tmp.dir, 'h');
  box = createTinyGuestBox<Box>(ok, tmp.dir, 'mem');
});
afterAll(() => {
  serial?.close();
  cliSync(home, ['box', 'stop', 'mem', '--force']);
  tmp?.cleanup();
});

describe('boxkeep snapshot create --memory', () => {
  it('refuses --memory on a stopped box and beside --no-memory, changing nothing', () => {
    const both = text('snapshot', 'create', 'mem', '--memory', '--no-memory');
    expect(both.code).not.toBe(0);
    expect(both.err).toContain('Give --memory or --no-memory, not both.');
    const stopped = text('snapshot', 'create', 'mem', 's0', '--memory');
    expect(stopped.code).not.toBe(0);
    expect(stopped.err).toContain('only a running box has memory to keep');
    expect(ok<{ snapshots: Snapshot[] }>('snapshot', 'list', 'mem').snapshots).toEqual([]);
  });

  it('keeps a running box\'s memory, shows it, and restores it running', async () => {
    const started = await startAndAttach(() => ok('box', 'start', 'mem'), path.join(runDir(), 'serial.sock'), path.join(home, 'boxes', box.id, 'logs', 'serial.log'));
    serial = started.serial;
    expect((await serial.run('KEPT=at-snapshot', 20_000)).status).toBe(0);
    serial.close();
    serial = null;
    const took = text('snapshot', 'create', 'mem', 'm1', '--memory');
    expect(took.code, took.err).toBe(0);
    expect(took.out).toMatch(/^Took snapshot "m1" \(\w+\) while the box ran, with its memory \([\d.]+ [MG]i?B\)\.\n$/);
    const shown = text('snapshot', 'show', 'mem', 'm1');
    expect(shown.out).toContain('while the box ran, with its memory');
    expect(shown.out).toMatch(/Memory:\s+[\d.]+ [MG]i?B \(QEMU \d+\.\d+\.\d+, pc-i440fx-[\d.]+-machine\): restored running/);
    // The CLI's default keeps only the disk.
    expect(ok<Snapshot>('snapshot', 'create', 'mem', 'd1').taken).toBe('crash-consistent');

    const restored = text('snapshot', 'restore', 'mem', 'm1', '--stop-first', '--discard-current');
    expect(restored.code, restored.err).toBe(0);
    expect(restored.out).toContain('Restored box "mem" to snapshot "m1"');
    expect(restored.out).toContain('with its memory; it is running from that moment.');
    expect(ok<Box>('box', 'show', 'mem').status).toBe('running');
    serial = await SerialDriver.connect(path.join(runDir(), 'serial.sock'));
    const r = await serial.run('echo "kept=$KEPT"', 20_000);
    expect(r.output.trim()).toBe('kept=at-snapshot');
    const json = ok<RestoreResult>('snapshot', 'restore', 'mem', 'd1', '--stop-first', '--discard-current');
    expect(json.box.status).toBe('stopped');
  }, 300_000);
});
