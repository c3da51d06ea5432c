// The CLI running a real box: each command is its own process, so `box start` leaves QEMU
// running detached and every later command adopts it through its fingerprint.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, ConsoleOutput, Snapshot } from '../../shared/types.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { buildGuest, makeDataDisk } from '../helpers/guest.js';

const BIN = path.resolve('bin/boxkeep.mjs');
let tmp: { dir: string; cleanup(): void };
let home: string;

function boxkeep(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--home', home, '--json', ...args], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, BOXKEEP_STOP_TIMEOUT_MS: '1500' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok<T>(...args: string[]): T {
  const r = boxkeep(...args);
  if (r.code !== 0) throw new Error(`boxkeep ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

beforeAll(() => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox');
  tmp = tempHome('bkcv');
  home = path.join(tmp.dir, 'h');
  const g = buildGuest();
  const disk = makeDataDisk(path.join(tmp.dir, 'd.qcow2'), 32);
  ok('image', 'import', disk, '--name', 'tiny', '--kernel', g.kernel, '--initrd', g.initrd, '--append', 'console=ttyS0 panic=-1 quiet');
  ok('box', 'create', 'vm', '--image', 'tiny', '--memory', '128');
});
afterAll(() => {
  boxkeep('box', 'stop', 'vm', '--force');
  tmp?.cleanup();
});

describe('boxkeep box start/console/snapshot/stop', () => {
  it('start returns while the box keeps running; later commands adopt it', async () => {
    expect(ok<Box>('box', 'start', 'vm').status).toBe('running');
    let lines: string[] = [];
    for (let i = 0; i < 100 && !lines.some((l) => l.includes('BOXKEEP-GUEST-READY')); i++) {
      lines = ok<ConsoleOutput>('box', 'console', 'vm', '--lines', '20').lines;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(lines.join('\n')).toContain('BOXKEEP-GUEST-READY');
    expect(ok<Box>('box', 'show', 'vm').status).toBe('running');
    const s = ok<Snapshot>('snapshot', 'create', 'vm', 'while-running');
    expect(s.live).toBe(true);
    expect(ok<Box>('box', 'pause', 'vm').status).toBe('paused');
    expect(ok<Box>('box', 'resume', 'vm').status).toBe('running');
  });

  it('restore refuses a running box with exit 5, and does it with --stop-first', () => {
    const r = boxkeep('snapshot', 'restore', 'vm', 'while-running');
    expect(r.code).toBe(5);
    expect(JSON.parse(r.err).error.message).toMatch(/stop it first/);
    const done = ok<{ box: Box }>('snapshot', 'restore', 'vm', 'while-running', '--stop-first');
    expect(done.box.status).toBe('stopped');
  });

  it('start again and a forced stop', () => {
    expect(ok<Box>('box', 'start', 'vm').status).toBe('running');
    expect(ok<Box>('box', 'stop', 'vm', '--force').status).toBe('stopped');
    const again = boxkeep('box', 'stop', 'vm');
    expect(again.code).toBe(5);
  });
});
