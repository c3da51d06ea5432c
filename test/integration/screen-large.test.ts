// A screen whose PNG is larger than one message may carry: a boot sector (makeNoiseDisk) (assembled with GNU as,
// .code16, linked at 0x7c00) sets the VBE mode 0x118 (1024×768) and fills the video memory
// with xorshift noise, bank by bank, then prints "ND" to COM1:
//   cli; xor ax,ax; mov ds/ss,ax; mov sp,0x7c00; sti
//   mov ax,0x4f02; mov bx,0x0118; int 0x10            ; VBE set mode, windowed
//   mov dx,0x3f8; mov al,'N'; out dx,al
//   mov bp,0xace1; xor dx,dx
//   bank: push dx; mov ax,0x4f05; xor bx,bx; int 0x10; pop dx   ; window A to bank dx
//         mov ax,0xa000; mov es,ax; xor di,di; mov cx,0x8000
//   fill: bp ^= bp<<7; bp ^= bp>>9; bp ^= bp<<8; mov ax,bp; stosw; loop fill
//         inc dx; cmp dx,48; jb bank                    ; 48 × 64 KiB: the whole screen at 32 bits
//   mov dx,0x3f8; mov al,'D'; out dx,al; hang: hlt; jmp hang
// Noise does not compress: the screendump is megabytes. A screenshot in one message is refused,
// saying why; the stream (displays:screenshot) carries it whole;
// a live snapshot still keeps its (small) picture; a box killed mid-screenshot is said to have stopped.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import { decodePng } from '../../electron/core/vm/png.js';
import { createRouter } from '../../electron/core/router.js';
import { MAX_PICTURE_SOURCE_BYTES, MAX_SCREENSHOT_BYTES, screendump } from '../../electron/core/vm/screen.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { makeNoiseDisk, waitForSerial } from '../helpers/installer.js';

let tmp: { dir: string; cleanup(): void };
let core: Core;
let boxId: string;
const sup = () => core.vms as Supervisor;

beforeAll(async () => {
  requireTools('qemu-system-x86_64', 'qemu-img');
  tmp = tempHome('bkscl');
  const file = makeNoiseDisk(tmp.dir);
  core = await openCore({ home: path.join(tmp.dir, 'h'), owner: 'test', supervisor: { stopTimeoutMs: 2000 } });
  await core.images.import({ path: file, name: 'noise' });
  boxId = (await core.boxes.create({ name: 'noisy', image: 'noise' })).id;
  await core.vms.start('noisy');
  await waitForSerial(sup().logFile(boxId), 0, 'ND', 60_000);
}, 120_000);

afterAll(async () => {
  if (core) {
    for (const id of [...sup().sessions.keys()]) await core.vms.stop(id, { force: true }).catch(() => {});
    await core.close().catch(() => {});
  }
  tmp?.cleanup();
});

describe('a screen whose PNG is megabytes', () => {
  it('refuses a screenshot in one message, saying how large it is and how to save it whole, and leaves nothing in the run folder', async () => {
    await expect(core.vms.screenshot('noisy')).rejects.toMatchObject({ code: 'Vm', message: expect.stringMatching(new RegExp(`makes a PNG of \\d+ bytes, more than the ${MAX_SCREENSHOT_BYTES} bytes a screenshot may have; "boxkeep box screenshot noisy -o FILE.png" saves it whole \\(a stream, up to 64 MiB\\)\\.$`)) });
    expect(fs.readdirSync(sup().session(boxId).runDir).filter((f) => f.includes('screendump'))).toEqual([]);
  });

  it('streams it whole through displays:screenshot: the bytes of a screendump taken beside it, and nothing left in the run folder', async () => {
    const { qmp, runDir } = sup().session(boxId);
    const stream = await createRouter(core).openStream('displays:screenshot', { box: 'noisy' });
    const chunks: Uint8Array[] = [];
    stream.onData((b) => chunks.push(b));
    const end = await new Promise((r) => stream.onClose(r));
    const streamed = Buffer.concat(chunks);
    const raw = await screendump(qmp, runDir, 'raw', MAX_PICTURE_SOURCE_BYTES);
    expect(end).toMatchObject({ reason: 'closed' });
    expect(streamed.length).toBeGreaterThan(MAX_SCREENSHOT_BYTES);
    expect(decodePng(streamed)).toMatchObject({ width: 1024, height: 768 });
    expect(streamed.equals(raw.png)).toBe(true);
    expect(fs.readdirSync(runDir).filter((f) => f.includes('screendump'))).toEqual([]);
  });

  it('a live snapshot still keeps its picture, shrunk to 320 px and as noisy as the screen', async () => {
    const s = await core.snapshots.create({ box: 'noisy', name: 'loud' });
    expect(s).toMatchObject({ live: true, hasPicture: true });
    const picture = core.snapshots.picture('noisy', 'loud');
    expect(picture).toMatchObject({ width: 320, height: 240 });
    const image = decodePng(Buffer.from(picture.png, 'base64'));
    // Not a blank screen: the pixels vary.
    expect(new Set(image.rgb.subarray(0, 3000)).size).toBeGreaterThan(50);
  });

  it('a box that stops in the middle of a screenshot: the screenshot says so, and nothing is left in the run folder', async () => {
    const { pid, runDir } = sup().session(boxId);
    const shot = core.vms.screenshot('noisy');
    process.kill(pid, 'SIGKILL');
    await expect(shot).rejects.toMatchObject({ code: 'Vm', message: 'Could not take a screenshot of the box "noisy": it stopped (or its QEMU went away) meanwhile.' });
    expect(fs.readdirSync(runDir).filter((f) => f.includes('screendump'))).toEqual([]);
    // The supervisor records the failure a moment later; the home closes only after that.
    await vi.waitFor(() => expect(core.store.getBox(boxId)!.status).toBe('failed'), { timeout: 10_000 });
  });
});
