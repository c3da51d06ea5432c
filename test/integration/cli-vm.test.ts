// The CLI running a real box: each command is its own process, so `box start` leaves QEMU
// running detached and every later command adopts it through its fingerprint.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, Snapshot } from '../../shared/types.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { cliOk, cliSync } from '../helpers/cli.js';
import { createTinyGuestBox, waitForReadyLine } from '../helpers/guest.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
const ENV = { BOXKEEP_STOP_TIMEOUT_MS: '1500' };
const boxkeep = (...args: string[]) => cliSync(home, args, ENV);
const ok = <T>(...args: string[]) => cliOk<T>(home, args, ENV);

beforeAll(() => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox');
  tmp = tempHome('bkcv');
  home = path.join(tmp.dir, 'h');
  createTinyGuestBox(ok, tmp.dir, 'vm');
});
afterAll(() => {
  boxkeep('box', 'stop', 'vm', '--force');
  tmp?.cleanup();
});

describe('boxkeep box start/console/snapshot/stop', () => {
  it('start returns while the box keeps running; later commands adopt it', async () => {
    expect(ok<Box>('box', 'start', 'vm').status).toBe('running');
    const lines = await waitForReadyLine(ok, 'vm', 100);
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
