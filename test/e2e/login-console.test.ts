// A box whose image asks for a login shell on the serial console (`boxkeep.console=login` on
// its kernel command line), as a person meets it: in Debian's Chromium the Console tab shows
// the prompt, typed text is echoed by the guest's shell, the answer and the prompt again; and
// `boxkeep box console --attach`, piped, through the `boxkeep serve` that owns the home, gets
// the same shell. One guest boot for the whole file (TCG boots take 7-10 s even unloaded).
// Every QEMU it starts is stopped through the served API; one that outlived its owner is
// killed by the pid in its own fingerprint, never by name.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { BIN, cli } from '../helpers/cli.js';
import { LOGIN_APPEND, LOGIN_PROMPT } from '../helpers/guest.js';
import { expectNoPageProblems, screenshot } from './harness.js';
import { openGuestBoxPage, type GuestBoxPage } from './vm-rig.js';

let g: GuestBoxPage;
let page: Page;

beforeAll(async () => {
  g = await openGuestBoxPage({ box: 'shell', append: LOGIN_APPEND, env: { BOXKEEP_STOP_TIMEOUT_MS: '1500' } });
  page = g.page;
}, 300_000);
afterAll(() => g?.close(), 60_000);

/** The terminal's rendered rows, as a person reads them (trailing blanks dropped). */
const consoleLines = async () =>
  (await page.getByTestId('terminal').locator('.xterm-rows').innerText()).replace(/\u00a0/g, ' ').split('\n').map((l) => l.trimEnd()).filter(Boolean);
const prompt = LOGIN_PROMPT.trimEnd();

const openConsoleTab = async () => {
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'shell' }).waitFor();
  await page.getByRole('tab', { name: 'Console' }).click();
};

interface HeldReads { holding: boolean; held: (() => void)[]; release(): void }
let heldReads: HeldReads | null = null;
/**
 * The page's boxes:console answers, held back while `holding`: the guest can then print (or
 * stop) between the terminal's join and its read of the log, the moment a terminal that read
 * the log first and joined after would miss. Routed once; a reload goes through it too.
 */
async function holdConsoleReads(): Promise<HeldReads> {
  if (heldReads) return heldReads;
  const reads: HeldReads = {
    holding: false,
    held: [],
    release() {
      reads.holding = false;
      for (const send of reads.held.splice(0)) send();
    },
  };
  await page.routeWebSocket(/\/ws/, (ws) => {
    const server = ws.connectToServer();
    const consoleReads = new Set<number>();
    ws.onMessage((m) => {
      const j = typeof m === 'string' ? (JSON.parse(m) as { type?: string; id?: number; channel?: string }) : null;
      if (j?.type === 'invoke' && j.channel === 'boxes:console') consoleReads.add(j.id!);
      server.send(m);
    });
    server.onMessage((m) => {
      const j = typeof m === 'string' ? (JSON.parse(m) as { type?: string; id?: number }) : null;
      if (reads.holding && j?.type === 'result' && consoleReads.has(j.id!)) reads.held.push(() => ws.send(m));
      else ws.send(m);
    });
  });
  return (heldReads = reads);
}

describe('a box with a login shell on its serial console', () => {
  it('in the Console tab: the prompt, the typed line echoed, the answer, and the prompt again', async () => {
    await page.getByRole('navigation', { name: 'Boxes' }).getByRole('button', { name: 'Start shell' }).click();
    await page.getByRole('tab', { name: 'Console' }).click();
    await expect.poll(async () => (await consoleLines()).at(-1), { timeout: 120_000, interval: 500 }).toBe(prompt);

    await page.getByTestId('terminal').click();
    await page.keyboard.type('echo $((6*7))');
    await page.keyboard.press('Enter');
    // The typed text comes back from the guest's shell on the prompt's line; "42" is its answer.
    await expect.poll(async () => (await consoleLines()).slice(-3), { timeout: 20_000 }).toEqual([`${prompt} echo $((6*7))`, '42', prompt]);
    await screenshot(page, 'login-console');
    expectNoPageProblems(g.b);
  });

  it('a terminal joining later starts on the prompt’s own line, and misses nothing the guest prints while it joins', async () => {
    const reads = await holdConsoleReads();
    // The prompt is in the log only: the new page's terminal shows it as the log's open last line.
    await openConsoleTab();
    await expect.poll(async () => (await consoleLines()).at(-1), { timeout: 30_000 }).toBe(prompt);
    await expect.poll(() => page.getByText('Serial terminal: what you type goes to the guest.', { exact: false }).isVisible(), { timeout: 30_000 }).toBe(true);
    await page.getByTestId('terminal').click();
    await page.keyboard.type('echo $((7*6))');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await consoleLines()).slice(-3), { timeout: 20_000 }).toEqual([`${prompt} echo $((7*6))`, '42', prompt]);

    try {
      reads.holding = true;
      await openConsoleTab();
      await expect.poll(() => reads.held.length, { timeout: 30_000 }).toBeGreaterThan(0);
      // The read is answered (held here); now the guest prints, through another console.
      const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const line = [process.execPath, BIN, '--home', g.t.home, 'box', 'console', 'shell', '--attach'].map(q).join(' ');
      const r = spawnSync('sh', ['-c', `printf ${q('echo GAP-$((40+2))\n')} | ${line}`], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout).toContain('GAP-42');
      reads.release();
      await expect.poll(consoleLines, { timeout: 20_000 }).toContain('GAP-42');
      await expect.poll(async () => (await consoleLines()).at(-1), { timeout: 20_000 }).toBe(prompt);
    } finally {
      reads.release();
    }
    expectNoPageProblems(g.b);
  }, 180_000);

  it('`box console --attach`, piped, through the owner: the prompt and the answer, and `exit` gives a fresh shell', () => {
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const line = [process.execPath, BIN, '--home', g.t.home, 'box', 'console', 'shell', '--attach'].map(q).join(' ');
    const r = spawnSync('sh', ['-c', `printf ${q('echo BK$((40+2))\nexit\n')} | ${line}`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${LOGIN_PROMPT}`);
    expect(r.stdout).toMatch(/echo BK\$\(\(40\+2\)\)\r?\nBK42\r?\n/);
    // The shell that `exit` ended is started again: its banner and a prompt after the exit.
    expect(r.stdout.slice(r.stdout.indexOf('exit'))).toContain(LOGIN_PROMPT);
  });

  it('a terminal whose box stops while it joins shows the box\'s last output, not an empty screen', async () => {
    const reads = await holdConsoleReads();
    try {
      reads.holding = true;
      await openConsoleTab();
      await expect.poll(() => reads.held.length, { timeout: 30_000 }).toBeGreaterThan(0);
      // The stream is open and the log read answered (held): now the box goes.
      const stopped = await cli(g.t.home, ['box', 'stop', 'shell', '--force']);
      expect(stopped.code).toBe(0);
      reads.release();
      await expect.poll(() => page.getByText('this is its last output', { exact: false }).isVisible(), { timeout: 30_000 }).toBe(true);
      // What the earlier tests had the guest print is on the screen.
      await expect.poll(consoleLines, { timeout: 20_000 }).toContain('BK42');
      await expect.poll(() => consoleLines()).toContain('GAP-42');
    } finally {
      reads.release();
    }
    expectNoPageProblems(g.b);
  }, 120_000);
});
