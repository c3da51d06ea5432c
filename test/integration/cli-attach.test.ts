// `boxkeep box console <box> --attach` against a real running tiny guest: piped (a script),
// on a pseudo-terminal (raw mode, Ctrl-] detaches, the terminal restored), in process (the
// command adopts the box another command started) and through a running `boxkeep serve`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box } from '../../shared/types.js';
import { BIN, cliOk, cliSync } from '../helpers/cli.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { createTinyGuestBox, waitForReadyLine } from '../helpers/guest.js';
import { runOnPty } from '../helpers/pty.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
const ENV = { BOXKEEP_STOP_TIMEOUT_MS: '1500' };
const ok = <T>(...args: string[]) => cliOk<T>(home, args, ENV);
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const boxkeepLine = (...args: string[]) => [process.execPath, BIN, '--home', home, ...args].map(quote).join(' ');

/** The issue's own command line, through a shell: a pipe into the command, its output read back. */
function piped(input: string, ...args: string[]) {
  const r = spawnSync('sh', ['-c', `printf ${quote(input)} | ${boxkeepLine('box', 'console', 'B', '--attach', ...args)}`], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** `box console B --attach` in process, its stdin a pipe this test writes to; waits for the answer to a first line. */
async function attachedInProcess(line: string, answer: string) {
  const child = spawn(process.execPath, [BIN, '--home', home, 'box', 'console', 'B', '--attach'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...ENV } });
  const got = { out: '', err: '' };
  child.stdout!.on('data', (c: Buffer) => (got.out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (got.err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const send = async (text: string, expected: string) => {
    child.stdin!.write(text);
    for (let i = 0; i < 300 && !got.out.includes(expected); i++) await new Promise((r) => setTimeout(r, 100));
    expect(got.out).toContain(expected);
  };
  await send(line, answer);
  return { got, exited, send, endInput: () => child.stdin!.end() };
}

beforeAll(async () => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox', 'python3');
  tmp = tempHome('bkat');
  home = path.join(tmp.dir, 'h');
  createTinyGuestBox(ok, tmp.dir, 'B');
  ok('box', 'create', 'idle', '--image', 'tiny', '--memory', '128');
  expect(ok<Box>('box', 'start', 'B').status).toBe('running');
  const lines = await waitForReadyLine(ok, 'B', 200);
  expect(lines.join('\n')).toContain('BOXKEEP-GUEST-READY');
}, 180_000);
afterAll(() => {
  cliSync(home, ['box', 'stop', 'B', '--force'], ENV);
  tmp?.cleanup();
});

describe('boxkeep box console --attach', () => {
  it('with stdin a pipe: sends what it reads, prints what comes back, and exits after stdin ends (in process)', () => {
    const r = piped('echo BK$((40+2))\n');
    expect(r.err).toBe('');
    expect(r.out).toContain('BK42');
    expect(r.code).toBe(0);
  });

  it('waits --linger seconds after stdin ends for output that takes longer', () => {
    const started = Date.now();
    const r = piped('sleep 2; echo LATE$((1+1))\n', '--linger', '4');
    expect(r.out).toContain('LATE2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
    expect(r.code).toBe(0);
  });

  it('on a terminal: raw mode, Ctrl-] detaches, and the terminal is as it was afterwards', () => {
    const r = runOnPty(['sh', '-c', `${boxkeepLine('box', 'console', 'B', '--attach')}; echo "EXIT=$?"; stty -a`], {
      steps: [['Ctrl-] detaches.', 'echo TTY$((40+2))\r'], ['TTY42', '\x1d']],
    });
    expect(r.out).toContain('Attached to the console of the box "B". Ctrl-] detaches.');
    expect(r.out).toContain('TTY42');
    expect(r.out).toContain('boxkeep: Detached from the console of the box "B"; the box keeps running.');
    expect(r.out).toContain('EXIT=0');
    // Canonical mode and echo are back on: the shell after us reads lines again.
    const modes = r.out.slice(r.out.indexOf('EXIT=0'));
    expect(modes).toMatch(/(^|\s)icanon(\s|$)/m);
    expect(modes).toMatch(/(^|\s)echo(\s|$)/m);
    expect(modes).not.toMatch(/-icanon/);
  });

  it('refuses a box that is not running (exit 5, saying to start it) and flags that do not go together (exit 2)', () => {
    const idle = cliSync(home, ['box', 'console', 'idle', '--attach']);
    expect(idle.code).toBe(5);
    expect(JSON.parse(idle.err).error.message).toBe('The box "idle" is not running; start it first.');
    // Its log, never written: said so, not an empty line.
    const quiet = spawnSync(process.execPath, [BIN, '--home', home, 'box', 'console', 'idle'], { encoding: 'utf8', timeout: 60_000 });
    expect([quiet.status, quiet.stdout, quiet.stderr]).toEqual([0, '(The box has written nothing to its serial console yet.)\n', '']);
    const linger = cliSync(home, ['box', 'console', 'B', '--linger', '2']);
    expect(linger.code).toBe(2);
    expect(JSON.parse(linger.err).error.message).toContain('--linger goes with --attach.');
    const both = cliSync(home, ['box', 'console', 'B', '--attach', '--lines', '5']);
    expect(both.code).toBe(2);
    expect(cliSync(home, ['box', 'console', 'B', '--attach', '--linger', 'soon']).code).toBe(2);
  });

  it('while attached in process, serves the home to commands from other shells (a snapshot taken meanwhile)', async () => {
    const att = await attachedInProcess('echo ATT$((40+2))\n', 'ATT42');
    try {
      const made = cliSync(home, ['snapshot', 'create', 'B', 's1'], ENV);
      expect(made.err).toBe('');
      expect(made.code).toBe(0);
      expect(cliSync(home, ['snapshot', 'list', 'B'], ENV).out).toContain('s1');
      // Still attached and working after the other command.
      await att.send('echo AFTER$((40+2))\n', 'AFTER42');
    } finally {
      att.endInput();
    }
    expect(await att.exited).toBe(0);
    // Detached: the home is free again for an in-process command.
    const listed = cliSync(home, ['snapshot', 'list', 'B'], ENV);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('s1');
  }, 120_000);

  describe('with `boxkeep serve` owning the home', () => {
    let serve: ChildProcess;
    beforeAll(async () => {
      serve = spawn(process.execPath, [BIN, '--home', home, '--json', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
        serve.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('"url"')) {
            clearTimeout(timer);
            resolve();
          }
        });
        serve.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
      });
    }, 90_000);
    afterAll(async () => {
      const exited = new Promise((r) => serve?.once('exit', r));
      serve?.kill('SIGTERM');
      await exited;
    });

    it('joins the terminal through the owner: the same line, the same answer', () => {
      const r = piped('echo BK$((40+2))\n');
      expect(r.err).toBe('');
      expect(r.out).toContain('BK42');
      expect(r.code).toBe(0);
    });
  });

  // Last: it stops the box.
  it('while attached in process, a stop from another shell is answered, and the attached command ends saying why', async () => {
    const att = await attachedInProcess('echo STOP$((40+2))\n', 'STOP42');
    const stopped = cliSync(home, ['box', 'stop', 'B'], ENV);
    expect(stopped.err).toBe('');
    expect(stopped.code).toBe(0);
    expect(await att.exited).toBe(0);
    expect(att.got.err).toContain('boxkeep: The box stopped.');
    expect(ok<Box>('box', 'show', 'B').status).toBe('stopped');
  }, 120_000);
});
