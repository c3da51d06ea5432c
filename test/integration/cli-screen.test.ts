// The screen from the command line, with the real bin and no owner in between: each command
// opens the home, adopts the running QEMU (its vnc.sock says it has a screen) and lets go.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '../../electron/core/vm/png.js';
import type { Box, Snapshot } from '../../shared/types.js';
import { BIN, cliOk, cliSync } from '../helpers/cli.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { DISK_MARKER, makeScreenDisk, waitForSerial } from '../helpers/installer.js';

let tmp: { dir: string; cleanup(): void };
let home: string;

beforeAll(async () => {
  requireTools('qemu-system-x86_64', 'qemu-img');
  tmp = tempHome('bkcs');
  home = path.join(tmp.dir, 'h');
  cliOk(home, ['image', 'import', makeScreenDisk(tmp.dir), '--name', 'screen']);
}, 60_000);

afterAll(() => {
  for (const box of ['scr', 'blind']) cliSync(home, ['box', 'stop', box, '--force']);
  // Whatever a failed test left running is still ours to end.
  for (const id of fs.existsSync(path.join(home, 'boxes')) ? fs.readdirSync(path.join(home, 'boxes')) : []) {
    const pidFile = path.join(home, 'boxes', id, 'run', 'qemu.pid');
    const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
    if (pid > 0 && fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(home)) process.kill(pid, 'SIGKILL');
  }
  tmp?.cleanup();
});

describe('boxkeep and the screen', () => {
  it('creates a box from a disk image with a screen, and one without when asked', () => {
    expect(cliOk<Box>(home, ['box', 'create', 'scr', '--image', 'screen']).display).toBe('vnc');
    expect(cliOk<Box>(home, ['box', 'create', 'blind', '--image', 'screen', '--display', 'none']).display).toBe('none');
    const bad = cliSync(home, ['box', 'create', 'odd', '--image', 'screen', '--display', 'spice']);
    expect(bad.code).not.toBe(0);
    expect(JSON.parse(bad.err.trim().split('\n').pop()!).error).toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('--display must be "vnc"') });
  });

  it('box screenshot -o saves a PNG of the running screen; --output says the same', async () => {
    const box = cliOk<Box>(home, ['box', 'start', 'scr']);
    await waitForSerial(path.join(home, 'boxes', box.id, 'logs', 'serial.log'), 0, DISK_MARKER);
    const file = path.join(tmp.dir, 'shot.png');
    const saved = cliOk<{ width: number; height: number; bytes: number; file: string }>(home, ['box', 'screenshot', 'scr', '-o', file]);
    expect(saved).toMatchObject({ width: 720, height: 400, file });
    const bytes = fs.readFileSync(file);
    expect(bytes.length).toBe(saved.bytes);
    expect(decodePng(bytes)).toMatchObject({ width: 720, height: 400 });
    expect(fs.readdirSync(tmp.dir).filter((f) => f.includes('partial'))).toEqual([]);
    expect(cliOk<{ file: string }>(home, ['box', 'screenshot', 'scr', '--output', path.join(tmp.dir, 'again.png')]).file).toBe(path.join(tmp.dir, 'again.png'));
  });

  it('a live snapshot keeps a picture that snapshot picture saves', () => {
    const snap = cliOk<Snapshot>(home, ['snapshot', 'create', 'scr', 'lively']);
    expect(snap).toMatchObject({ live: true, hasPicture: true });
    const file = path.join(tmp.dir, 'pic.png');
    expect(cliOk(home, ['snapshot', 'picture', 'scr', 'lively', '-o', file])).toMatchObject({ width: 320, height: 178 });
    expect(decodePng(fs.readFileSync(file)).width).toBe(320);
    // As people read it.
    const shown = spawnSync(process.execPath, [BIN, '--home', home, 'snapshot', 'show', 'scr', 'lively'], { encoding: 'utf8' });
    expect(shown.stdout).toContain('Picture:       of the screen, saved with "boxkeep snapshot picture scr lively -o FILE.png"');
  });

  it('refuses a screenshot of a box without a screen and of a stopped box, saying why, and writes nothing', () => {
    const file = path.join(tmp.dir, 'none.png');
    const blind = cliSync(home, ['box', 'screenshot', 'blind', '-o', file]);
    expect(blind.code).not.toBe(0);
    expect(JSON.parse(blind.err.trim().split('\n').pop()!).error).toMatchObject({ code: 'InvalidState', message: expect.stringContaining('has no screen (its display is none)') });
    cliOk(home, ['box', 'set', 'blind', '--display', 'vnc']);
    const stopped = cliSync(home, ['box', 'screenshot', 'blind', '-o', file]);
    expect(JSON.parse(stopped.err.trim().split('\n').pop()!).error).toMatchObject({ code: 'InvalidState', message: 'The box "blind" is not running; start it first.' });
    const ghost = cliSync(home, ['box', 'screenshot', 'ghost', '-o', file]);
    expect(JSON.parse(ghost.err.trim().split('\n').pop()!).error).toMatchObject({ code: 'NotFound' });
    const noFile = cliSync(home, ['box', 'screenshot', 'scr']);
    expect(noFile.err).toContain('--output FILE is required');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('box set --display on a running box waits for the next start', () => {
    const box = cliOk<Box>(home, ['box', 'set', 'scr', '--display', 'none']);
    expect(box).toMatchObject({ display: 'none', pendingRestart: true });
    // Until then the screen it started with is still there.
    expect(cliOk(home, ['box', 'screenshot', 'scr', '-o', path.join(tmp.dir, 'still.png')])).toMatchObject({ width: 720 });
  });
});
