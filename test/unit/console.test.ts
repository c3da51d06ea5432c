import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tailLines, tailLog, cleanLine, trimLog } from '../../electron/core/vm/console.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bkc-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const logWith = (content: string | Buffer) => {
  const file = path.join(dir, `serial-${++counter}.log`);
  fs.writeFileSync(file, content);
  return file;
};

describe('tailLines', () => {
  it('returns the last lines, oldest first', async () => {
    const file = logWith('one\ntwo\nthree\nfour\n');
    expect(await tailLines(file, 2)).toEqual(['three', 'four']);
    expect(await tailLines(file, 10)).toEqual(['one', 'two', 'three', 'four']);
    expect(await tailLines(file, 0)).toEqual([]);
  });

  it('counts an unterminated last line, like a prompt or a panic cut short', async () => {
    expect(await tailLines(logWith('a\nb\n~ # '), 2)).toEqual(['b', '~ # ']);
  });

  it('says whether the last line is still open (a prompt the guest goes on writing on), however few lines are asked for', async () => {
    expect(await tailLog(logWith('a\nb\n~ # '), 2)).toEqual({ lines: ['b', '~ # '], open: true });
    expect(await tailLog(logWith('a\nb\n'), 1)).toEqual({ lines: ['b'], open: false });
    expect(await tailLog(logWith('login: '), 0)).toEqual({ lines: [], open: true });
    // A line the guest ends with CR LF is closed too.
    expect(await tailLog(logWith('ok\r\n'), 3)).toEqual({ lines: ['ok'], open: false });
    // Read between the CR and the LF: ended too (a terminal goes on at the next line's start).
    expect(await tailLog(logWith('ok\r'), 3)).toEqual({ lines: ['ok'], open: false });
    expect(await tailLog(path.join(dir, 'never-started.log'), 5)).toEqual({ lines: [], open: false });
    expect(await tailLog(logWith(''), 5)).toEqual({ lines: [], open: false });
  });

  it('has no lines for a missing or empty log', async () => {
    expect(await tailLines(path.join(dir, 'never-started.log'), 5)).toEqual([]);
    expect(await tailLines(logWith(''), 5)).toEqual([]);
  });

  it('strips colours, cursor movement, OSC titles and control characters but keeps tabs', async () => {
    const file = logWith('\x1b[1;31mred\x1b[0m\tcell\r\n\x1b]0;title\x07pro\x07mpt\x1b[2K\x1b(B\x00\r\n');
    expect(await tailLines(file, 2)).toEqual(['red\tcell', 'prompt']);
  });

  it('keeps what a progress counter finally shows after carriage returns', () => {
    expect(cleanLine('10%\r50%\r100%')).toBe('100%');
    expect(cleanLine('done\r\r')).toBe('done');
  });

  it('reads a 100 MB log from its end in bounded reads', async () => {
    const file = path.join(dir, 'big.log');
    const line = 'x'.repeat(99) + '\n';
    const block = Buffer.from(line.repeat(10_000)); // 1 MB
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < 100; i++) fs.writeSync(fd, block);
    fs.writeSync(fd, 'second to last\nlast line\n');
    fs.closeSync(fd);
    expect(fs.statSync(file).size).toBeGreaterThan(100_000_000);

    const readSpy = { bytes: 0 };
    const originalOpen = fs.promises.open;
    // Count bytes actually read to prove the file is not read whole.
    fs.promises.open = (async (...args: Parameters<typeof originalOpen>) => {
      const handle = await originalOpen(...args);
      const read = handle.read.bind(handle);
      (handle as unknown as { read: unknown }).read = async (buf: Buffer, off: number, len: number, pos: number) => {
        const r = await read(buf, off, len, pos);
        readSpy.bytes += r.bytesRead;
        return r;
      };
      return handle;
    }) as typeof originalOpen;
    const started = performance.now();
    let lines: string[];
    try {
      lines = await tailLines(file, 3);
    } finally {
      fs.promises.open = originalOpen;
    }
    expect(lines).toEqual(['x'.repeat(99), 'second to last', 'last line']);
    expect(readSpy.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(performance.now() - started).toBeLessThan(200);
    fs.rmSync(file);
  });

  it('cuts a huge line with no newline at maxBytes instead of reading it all', async () => {
    const file = logWith('z'.repeat(300_000));
    const [only] = await tailLines(file, 5, { maxBytes: 1000 });
    expect(only).toBe('z'.repeat(1000));
  });

  it('does not split a multi-byte character into garbage at line starts', async () => {
    const file = logWith('héllo\nwörld ✓\n');
    expect(await tailLines(file, 2)).toEqual(['héllo', 'wörld ✓']);
  });
});

describe('trimLog (before a start)', () => {
  it('leaves a log at or under the limit, and a missing one, as they are', () => {
    const file = logWith('a\n'.repeat(50));
    const before = fs.statSync(file);
    expect(trimLog(file, 100, 40)).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe('a\n'.repeat(50));
    expect(fs.statSync(file).ino).toBe(before.ino);
    expect(trimLog(path.join(dir, 'never-started.log'))).toBe(0);
  });

  it('keeps the end from the first whole line in it, under a line saying how much went', async () => {
    const file = logWith(Array.from({ length: 30 }, (_, i) => `line ${String(i).padStart(2, '0')}\n`).join(''));
    const exact = logWith(fs.readFileSync(file));
    // 240 bytes of 8-byte lines; the last 36 start 4 bytes into "line 25": it goes whole.
    const removed = trimLog(file, 100, 36);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toBe('--- Boxkeep removed 208 bytes of earlier output from this log (it had grown past 100 bytes)\r\nline 26\nline 27\nline 28\nline 29\n');
    expect(removed).toBe(208);
    // The last 40 start just at "line 25": it stays.
    expect(trimLog(exact, 100, 40)).toBe(200);
    expect(fs.readFileSync(exact, 'utf8')).toBe('--- Boxkeep removed 200 bytes of earlier output from this log (it had grown past 100 bytes)\r\nline 25\nline 26\nline 27\nline 28\nline 29\n');
    expect(await tailLines(file, 2)).toEqual(['line 28', 'line 29']);
  });

  it('never cuts a disk image put where the log belongs, nor waits on a FIFO there', () => {
    const image = logWith(Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb]), Buffer.alloc(300, 1)]));
    expect(trimLog(image, 100, 50)).toBe(0);
    expect(fs.statSync(image).size).toBe(304);
    const fifo = path.join(dir, 'fifo.log');
    execFileSync('mkfifo', [fifo]);
    expect(trimLog(fifo, 100, 50)).toBe(0);
  });

  it('keeps one huge line cut when the part kept has no newline, and keeps an open last line open', async () => {
    const file = logWith('x'.repeat(300) + '\nlogin: ');
    trimLog(file, 100, 50);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toBe('--- Boxkeep removed 301 bytes of earlier output from this log (it had grown past 100 bytes)\r\n' + 'login: ');
    expect((await tailLog(file, 5)).open).toBe(true);
    const huge = logWith('y'.repeat(500));
    trimLog(huge, 100, 50);
    expect(fs.readFileSync(huge, 'utf8')).toBe('--- Boxkeep removed 450 bytes of earlier output from this log (it had grown past 100 bytes)\r\n' + 'y'.repeat(50));
  });
});
