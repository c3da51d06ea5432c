// The home lock excludes: separate processes released at the same instant never both hold it,
// a killed holder frees it, and a refusal names who holds the home.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HomeLock, readLock } from '../../electron/core/lock.js';
import { tempHome } from '../helpers/disk.js';
import { rejection } from '../helpers/errors.js';

const CONTENDER = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/lock-contender.mjs');
const tmp = tempHome('bklock');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(() => tmp.cleanup());

interface Reply { round: number; held: boolean; overlap: string[]; refused: { code: string; message: string } | null }

function contender(lockFile: string, holders: string): Promise<ChildProcess> {
  const child = fork(CONTENDER, [lockFile, holders], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`contender exited (${code}) before it was ready`)));
  });
}

const reply = (child: ChildProcess, round: number) => new Promise<Reply>((resolve, reject) => {
  const onExit = (code: number | null) => reject(new Error(`contender ${child.pid} exited (${code}) in round ${round}`));
  const onMessage = (m: Reply) => {
    if (m.round !== round) return;
    child.off('message', onMessage).off('exit', onExit);
    resolve(m);
  };
  child.on('message', onMessage).once('exit', onExit);
});

describe('home lock', () => {
  it('never has two holders: 100 rounds of 4 processes released at the same instant', async () => {
    const dir = fs.mkdtempSync(path.join(tmp.dir, 'race-'));
    const lockFile = path.join(dir, 'home.lock');
    const holders = path.join(dir, 'holders');
    fs.mkdirSync(holders);
    const procs = await Promise.all([1, 2, 3, 4].map(() => contender(lockFile, holders)));
    const overlaps: string[] = [];
    const refusals = new Map<string, number>();
    let held = 0;
    for (let round = 0; round < 100; round++) {
      const at = Date.now() + 60;
      const replies = Promise.all(procs.map((p) => reply(p, round)));
      // Mostly short holds (the others wait their turn); every tenth round one long enough that
      // the others give up, so refusals are seen too.
      for (const p of procs) p.send({ round, at, holdMs: round % 10 === 9 ? 600 : 20 });
      for (const r of await replies) {
        if (r.held) held++;
        if (r.overlap.length > 0) overlaps.push(`round ${round}: held together with ${r.overlap.join(', ')}`);
        if (r.refused) refusals.set(`${r.refused.code}: ${r.refused.message}`, (refusals.get(`${r.refused.code}: ${r.refused.message}`) ?? 0) + 1);
      }
    }
    expect(overlaps).toEqual([]);
    // Every round someone got it, and every refusal is the user-facing "busy" one.
    expect(held).toBeGreaterThanOrEqual(100);
    expect([...refusals.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    for (const reason of refusals.keys()) expect(reason).toMatch(/^InvalidState: (This Boxkeep home is in use by another boxkeep command \(pid \d+\)|Another command is changing this Boxkeep home)/);
  });

  it('is freed when its holder is killed with SIGKILL, and names a live holder meanwhile', async () => {
    const dir = fs.mkdtempSync(path.join(tmp.dir, 'kill-'));
    const lockFile = path.join(dir, 'home.lock');
    const script = `import { HomeLock } from ${JSON.stringify(new URL('../../dist/electron/core/lock.js', import.meta.url).href)};
      HomeLock.acquire(${JSON.stringify(lockFile)}, 'app'); process.send('held'); setInterval(() => {}, 1000);`;
    const app = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(app);
    await new Promise((resolve, reject) => {
      app.once('message', resolve);
      app.once('exit', (code) => reject(new Error(`holder exited (${code})`)));
    });
    expect(readLock(lockFile)).toMatchObject({ pid: app.pid, kind: 'app' });
    const refused = await rejection(() => HomeLock.acquire(lockFile, 'cli'));
    expect(refused.code).toBe('InvalidState');
    expect(refused.message).toContain(`in use by the Boxkeep app (pid ${app.pid})`);

    const gone = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGKILL');
    await gone;
    const mine = HomeLock.acquire(lockFile, 'cli');
    expect(readLock(lockFile)).toMatchObject({ pid: process.pid, kind: 'cli' });
    mine.release();
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('refuses a second holder in the same process until the first lets go', async () => {
    const lockFile = path.join(fs.mkdtempSync(path.join(tmp.dir, 'same-')), 'home.lock');
    const first = HomeLock.acquire(lockFile, 'test');
    const second = await rejection(() => HomeLock.acquire(lockFile, 'test'));
    expect(second.code).toBe('InvalidState');
    expect(second.message).toContain(`(pid ${process.pid})`);
    first.release();
    HomeLock.acquire(lockFile, 'test').release();
  });
});
