// What the CLI prints besides its answer: nothing, unless something needed repairing.
// `serve` started outside the repository, and any command while a box runs, used to print
// electron-log stack traces and a "recovery noted: … reattached" line every time.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box } from '../../shared/types.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { buildGuest, makeDataDisk } from '../helpers/guest.js';

const BIN = path.resolve('bin/boxkeep.mjs');
let tmp: { dir: string; cleanup(): void };
let home: string;

function boxkeep(args: string[], opts: { json?: boolean } = {}) {
  const r = spawnSync(process.execPath, [BIN, '--home', home, ...(opts.json ? ['--json'] : []), ...args], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, BOXKEEP_STOP_TIMEOUT_MS: '1000' },
  });
  if (r.status !== 0) throw new Error(`boxkeep ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return { out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox');
  tmp = tempHome('bkn');
  home = path.join(tmp.dir, 'h');
});
afterAll(() => {
  try { boxkeep(['box', 'stop', 'vm', '--force']); } catch { /* never started */ }
  tmp?.cleanup();
});

describe('serve outside the repository', () => {
  it('prints its address and no stack trace, and still writes its log', async () => {
    const foreign = fs.mkdtempSync(path.join(tmp.dir, 'cwd-'));
    const logs = path.join(tmp.dir, 'logs');
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--home', home], {
      cwd: foreign, env: { ...process.env, BOXKEEP_LOG_DIR: logs }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes('Boxkeep is at') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out, err).toContain('Boxkeep is at');
      await new Promise((r) => setTimeout(r, 1000)); // what it logs right after start
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    }
    expect(err).not.toMatch(/electron-log|app name|\n\s+at /);
    expect(fs.readFileSync(path.join(logs, 'serve.log'), 'utf8')).toMatch(/serve started/);
  });
});

describe('commands while a box runs', () => {
  it('say nothing about recovery for the routine reattachment, and still report a real repair', () => {
    const g = buildGuest();
    const disk = makeDataDisk(path.join(tmp.dir, 'd.qcow2'), 32);
    boxkeep(['image', 'import', disk, '--name', 'tiny', '--kernel', g.kernel, '--initrd', g.initrd, '--append', 'console=ttyS0 panic=-1 quiet']);
    const box = JSON.parse(boxkeep(['box', 'create', 'vm', '--image', 'tiny', '--memory', '128'], { json: true }).out) as Box;
    boxkeep(['box', 'start', 'vm']);

    const listed = boxkeep(['box', 'list']);
    expect(listed.out).toMatch(/vm\s+running/);
    expect(listed.err).toBe('');

    // A real repair: an unreadable intent record is deleted, and the user is told.
    fs.mkdirSync(path.join(home, 'boxes', box.id, 'journal'), { recursive: true });
    fs.writeFileSync(path.join(home, 'boxes', box.id, 'journal', 'garbage.json'), '{"op": "snapshot-cre');
    const repaired = boxkeep(['box', 'list']);
    expect(repaired.err).toMatch(/^boxkeep: recovery kept: An unreadable intent record .*garbage\.json/);
    expect(repaired.err.trim().split('\n')).toHaveLength(1);
  });
});
