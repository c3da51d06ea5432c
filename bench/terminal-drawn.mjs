// Terminal throughput until drawn (issue 11): the guest `cat`s a generated file in the
// Console tab of Debian's Chromium, timed from the Enter key until the marker printed after
// it is in xterm's rendered rows: what a person waits for. The floor: the same `cat` read
// from QEMU's raw serial socket by this process, until the marker's bytes arrive; between
// them, the same through the web host's WebSocket (the page's transport) into Node.
//
// The size is 1 MiB by default (BENCH_DRAWN_MIB to change it), not the 10 MiB: the
// serial line under TCG carries ~150-200 KiB/s, so 10 MiB is a minute or more per run. Each
// row prints its KiB/s, which compare across sizes. The floor runs first (nothing else may
// hold QEMU's one serial connection then); each side's first run warms up and is not counted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, requireBuilt, round, row, tempDir } from './lib.mjs';
import { buildRenderer, launchChromium, requireChromium } from './render.mjs';
import { bootWithRawSerial, fromStream, wsStream } from './terminal.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { createRouter } = await import('../dist/electron/core/router.js');
const { startWebHost } = await import('../dist/electron/host/web-host.js');

const MIB = Number(process.env.BENCH_DRAWN_MIB ?? 1);
const BYTES = Math.round(MIB * 1024 * 1024);
const RUNS = Number(process.env.BENCH_DRAWN_N ?? 3);
const FILE = '/tmp/drawn.txt';
/** The n-th run's marker, computed by the guest: the typed command line never matches it. */
const command = (n) => `cat ${FILE}; echo DRAWN-$((${n}+1000))`;
const marker = (n) => `DRAWN-${n + 1000}`;
const kibs = (ms) => round(BYTES / 1024 / (ms / 1000));

/** Runs the cat RUNS times on `pipe` (markers from `first` on); the times of all but the first. */
async function timeCats(pipe, first) {
  const times = [];
  for (let n = first; n < first + RUNS; n++) {
    pipe.text = '';
    const t0 = performance.now();
    pipe.write(Buffer.from(command(n) + '\n'));
    await pipe.until(() => pipe.text.includes(marker(n)), 600_000);
    if (n > first) times.push(performance.now() - t0);
  }
  return times;
}

export async function terminalDrawnBenchmarks() {
  requireChromium();
  const dir = tempDir('bktd-');
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', supervisor: { stopTimeoutMs: 1000 } });
  let host = null;
  let browser = null;
  try {
    const rendererDir = path.join(dir, 'renderer');
    buildRenderer(rendererDir);
    const { box, socket, raw } = await bootWithRawSerial(core, dir, 'term');
    // 64-byte lines, as text output has; the serial line turns each \n into \r\n.
    await raw.line(`yes ${'a'.repeat(63)} | head -c ${BYTES} > ${FILE}; echo MADE-$((1+1))`, 'MADE-2');

    const floor = await timeCats(raw, 0);
    socket.destroy();
    await new Promise((r) => setTimeout(r, 200));

    // Between the two: the same bytes through the page's transport (the web host's WebSocket)
    // into Node, not drawn: what the terminal adds beyond it is parsing and drawing.
    host = await startWebHost({ router: createRouter(core), staticDir: rendererDir });
    const ws = await wsStream(host, box.id);
    const viaWs = await timeCats(fromStream(ws.stream), RUNS);
    ws.stream.close();
    ws.close();
    browser = await launchChromium();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' })).newPage();
    await page.goto(host.url);
    await page.getByRole('heading', { level: 1, name: 'term' }).waitFor();
    await page.getByRole('tab', { name: 'Console' }).click();
    const terminal = page.getByTestId('terminal');
    await terminal.locator('.xterm-rows').waitFor();
    await terminal.click();
    // The console stream is open once the guest's answer to a typed line is drawn.
    await page.keyboard.type('echo OPEN-$((1+1))');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="terminal"] .xterm-rows')?.textContent.includes('OPEN-2'), null, { timeout: 60_000 });

    const drawn = [];
    for (let n = 2 * RUNS; n < 3 * RUNS; n++) {
      await page.keyboard.type(command(n));
      const t0 = performance.now();
      await page.keyboard.press('Enter');
      await page.waitForFunction((m) => document.querySelector('[data-testid="terminal"] .xterm-rows')?.textContent.includes(m), marker(n), { timeout: 600_000, polling: 'raf' });
      if (n > 2 * RUNS) drawn.push(performance.now() - t0);
    }
    const extra = (xs) => ({ samples_ms: xs.map(round), bytes: BYTES, load: round(os.loadavg()[0]) });
    return [
      row(`cat ${MIB} MiB, drawn in the Console tab (Chromium)`, drawn, floor, `report (${kibs(median(drawn))} KiB/s; floor ${kibs(median(floor))} KiB/s)`, extra(drawn)),
      row(`cat ${MIB} MiB, web host WebSocket into Node (not drawn)`, viaWs, floor, `report (${kibs(median(viaWs))} KiB/s)`, extra(viaWs)),
      row(`cat ${MIB} MiB, raw serial socket (floor)`, floor, null, `report (${kibs(median(floor))} KiB/s)`, extra(floor)),
    ];
  } finally {
    await browser?.close().catch(() => {});
    await host?.close();
    await core.vms.stop('term', { force: true }).catch(() => {});
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
