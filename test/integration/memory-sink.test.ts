// The memory sink (snapshots/live/memory.ts) on a full file system: QEMU 7.2 hangs for good
// when the reader of a migration goes away mid-stream, so the sink must read the whole stream
// even when it can no longer write it, and then leave no state and no sum behind.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SINK } from '../../electron/core/snapshots/live/memory.js';

let dir: string;
let mounted = false;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-sink-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(dir)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`This test needs to mount a 1 MiB tmpfs (as root): ${r.stderr || r.error}`);
  mounted = true;
});
afterAll(() => {
  if (mounted) spawnSync('umount', [dir]);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the memory sink', () => {
  it('reads a stream it cannot store to its end, then exits without a state or a sum', async () => {
    const sock = path.join(os.tmpdir(), `bk-sink-${process.pid}.sock`);
    const partial = path.join(dir, 'memory.state.partial');
    const child = spawn(process.execPath, ['-e', SINK, sock, partial], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      void exited.then((code) => reject(new Error(`the sink exited (${code}) before it listened`)));
    });
    // 8 MiB into a 1 MiB file system, as QEMU would send it.
    const sent = await new Promise<Error | null>((resolve) => {
      const c = net.createConnection(sock, async () => {
        const chunk = Buffer.alloc(256 << 10, 0xab);
        for (let i = 0; i < 32; i++) if (!c.write(chunk)) await new Promise((r) => c.once('drain', r));
        c.end();
      });
      c.on('error', resolve);
      c.on('close', () => resolve(null));
    });
    expect(sent, 'the writer saw its reader go away').toBeNull();
    expect(await exited).not.toBe(0);
    expect(fs.readdirSync(dir)).toEqual([]);
    fs.rmSync(sock, { force: true });
  }, 60_000);
});
