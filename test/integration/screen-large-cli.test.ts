// A screen whose PNG is megabytes (the noise boot sector of screen-large.test.ts), saved by the
// real `boxkeep box screenshot` while `boxkeep serve` owns the home, so the command forwards
// over the control socket, and through serve's web host as a page would. One message may carry
// at most 720 000 bytes of PNG; the stream (displays:screenshot) carries the screen whole.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readLock } from '../../electron/core/lock.js';
import { decodePng } from '../../electron/core/vm/png.js';
import { QmpClient } from '../../electron/core/vm/qmp.js';
import { MAX_SCREENSHOT_BYTES } from '../../electron/core/vm/screen.js';
import { connectBridge, type SocketFactory } from '../../renderer/src/transport.js';
import type { BoxkeepBridge } from '../../shared/client.js';
import type { Box } from '../../shared/types.js';
import { BIN, cli, cliOk, cliSync } from '../helpers/cli.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { makeNoiseDisk, NOISE_DONE, waitForSerial } from '../helpers/installer.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
let box: Box;
let serve: ChildProcess | null = null;
let pageUrl = '';
const runDir = () => path.join(home, 'boxes', box.id, 'run');
const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.includes('screendump') || f.includes('partial'));

beforeAll(async () => {
  requireTools('qemu-system-x86_64', 'qemu-img');
  tmp = tempHome('bkslc');
  home = path.join(tmp.dir, 'h');
  cliOk(home, ['image', 'import', makeNoiseDisk(tmp.dir), '--name', 'noise']);
  box = cliOk<Box>(home, ['box', 'create', 'noisy', '--image', 'noise']);
  cliOk(home, ['box', 'start', 'noisy']);
  await waitForSerial(path.join(home, 'boxes', box.id, 'logs', 'serial.log'), 0, NOISE_DONE, 90_000);
  serve = spawn(process.execPath, [BIN, '--home', home, '--json', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
    serve!.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"url"'));
      if (!line) return;
      clearTimeout(timer);
      pageUrl = (JSON.parse(line) as { url: string }).url;
      resolve();
    });
    serve!.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}, 180_000);

afterAll(async () => {
  await stopServe();
  if (home) cliSync(home, ['box', 'stop', 'noisy', '--force']);
  // Whatever a failed test left running is still ours to end.
  const pidFile = box ? path.join(runDir(), 'qemu.pid') : '';
  const pid = pidFile && fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
  if (pid > 0 && fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(home)) process.kill(pid, 'SIGKILL');
  tmp?.cleanup();
});

async function stopServe(): Promise<void> {
  if (!serve || serve.exitCode !== null) return;
  const exited = new Promise((r) => serve!.once('exit', r));
  serve.kill('SIGTERM');
  await exited;
}

async function readAll(stream: Awaited<ReturnType<BoxkeepBridge['displays']['screenshot']>>): Promise<{ bytes: Buffer; end: unknown }> {
  const chunks: Uint8Array[] = [];
  stream.onData((b) => chunks.push(b));
  const end = await new Promise((r) => stream.onClose(r));
  return { bytes: Buffer.concat(chunks), end };
}

describe('box screenshot of a screen of megabytes, with boxkeep serve owning the home', () => {
  const file = () => path.join(tmp.dir, 'big.png');

  it('the command, forwarded to serve, saves the whole PNG at the screen\'s size', async () => {
    const r = await cli(home, ['box', 'screenshot', 'noisy', '-o', file()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.data).toMatchObject({ boxId: box.id, width: 1024, height: 768, file: file() });
    const bytes = fs.readFileSync(file());
    expect(bytes.length).toBe((r.data as { bytes: number }).bytes);
    expect(bytes.length).toBeGreaterThan(MAX_SCREENSHOT_BYTES);
    const image = decodePng(bytes);
    expect(image).toMatchObject({ width: 1024, height: 768 });
    expect(new Set(image.rgb.subarray(0, 3000)).size).toBeGreaterThan(50);
    // Forwarded: serve still holds the home, and nothing is left beside the file or in run/.
    expect(readLock(path.join(home, 'home.lock'))).toMatchObject({ pid: serve!.pid });
    expect(leftovers(tmp.dir)).toEqual([]);
    expect(leftovers(runDir())).toEqual([]);
  }, 120_000);

  it('a page on serve\'s web host gets the same bytes through displays.screenshot, where boxes.screenshot refuses the size', async () => {
    const origin = new URL(pageUrl).origin;
    const Browser = class extends WebSocket { constructor(url: string) { super(url, { origin }); } } as unknown as SocketFactory;
    const bridge = await connectBridge({ preload: null, pageUrl, WebSocket: Browser });
    const { bytes, end } = await readAll(await bridge.displays.screenshot({ box: 'noisy' }));
    expect(end).toMatchObject({ reason: 'closed' });
    expect(bytes.equals(fs.readFileSync(file()))).toBe(true);
    await expect(bridge.boxes.screenshot({ box: 'noisy' })).rejects.toMatchObject({ code: 'Vm', message: expect.stringContaining(`more than the ${MAX_SCREENSHOT_BYTES} bytes`) });
    // Bad input over the same page: clear errors, nothing saved.
    await expect(bridge.displays.screenshot({ box: 'ghost' })).rejects.toMatchObject({ code: 'NotFound' });
    await expect(bridge.displays.screenshot({ box: '' } as never)).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(leftovers(runDir())).toEqual([]);
  }, 120_000);

  it('its pixels are those of a raw QMP screendump of the screen, taken once serve let go', async () => {
    await stopServe();
    const qmp = await QmpClient.connect(path.join(runDir(), 'qmp.sock'), { timeoutMs: 10_000 });
    const raw = path.join(tmp.dir, 'raw.png');
    try {
      await qmp.execute('screendump', { filename: raw, format: 'png' }, { timeoutMs: 30_000 });
    } finally {
      qmp.close();
    }
    const saved = decodePng(fs.readFileSync(file()));
    const dumped = decodePng(fs.readFileSync(raw));
    expect(saved).toMatchObject({ width: dumped.width, height: dumped.height });
    expect(saved.rgb.equals(dumped.rgb)).toBe(true);
  }, 120_000);
});
