// App startup with the real core on a temporary home and the platform injected: the order the
// design requires, the recovery report, a second instance, a home held by someone else, and
// an app that finds `boxkeep serve` already owning the home.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecoveryReport } from '../../shared/types.js';
import { readLock } from '../../electron/core/lock.js';
import { startOwner } from '../../electron/host/owner.js';
import { recoverySummary, startApp, type AppPlatform, type AppRuntime } from '../../electron/shell/startup.js';
import { tempHome } from '../helpers/disk.js';
import { memoryLogger } from '../integration/host-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function platform(home: string, overrides: Partial<AppPlatform> = {}) {
  const steps: string[] = [];
  const events: Array<{ event: string; payload: unknown }> = [];
  const reports: RecoveryReport[] = [];
  const fatals: string[] = [];
  const p: AppPlatform = {
    home,
    logger: memoryLogger(),
    claimSingleInstance: () => (steps.push('single-instance'), true),
    whenReady: async () => void steps.push('ready'),
    bindIpc: () => void steps.push('ipc'),
    broadcast: (event, payload) => void events.push({ event, payload }),
    openMainWindow: () => {
      const lock = readLock(path.join(home, 'home.lock'));
      const journalLeft = fs.existsSync(path.join(home, 'journal', 'garbled.json'));
      steps.push(`window(lock=${lock?.pid === process.pid ? lock.kind : 'other'}, journal=${journalLeft ? 'unsettled' : 'settled'})`);
    },
    showRecovery: (r) => void (steps.push('recovery-shown'), reports.push(r)),
    fatal: (title, message) => void fatals.push(`${title}: ${message}`),
    exit: (code) => void steps.push(`exit(${code})`),
    ...overrides,
  };
  return { p, steps, events, reports, fatals };
}

async function started(p: AppPlatform): Promise<AppRuntime> {
  const rt = await startApp(p);
  if (!rt) throw new Error('startApp returned null');
  cleanups.push(() => rt.close());
  return rt;
}

function freshHome() {
  const tmp = tempHome('bku');
  cleanups.push(() => tmp.cleanup());
  return path.join(tmp.dir, 'home');
}

describe('app startup', () => {
  it('takes the home and runs recovery before the window opens, then shows what recovery did', async () => {
    const home = freshHome();
    fs.mkdirSync(path.join(home, 'journal'), { recursive: true });
    fs.writeFileSync(path.join(home, 'journal', 'garbled.json'), '{"op": "snapshot-cre');
    const { p, steps, reports } = platform(home);
    const rt = await started(p);
    expect(steps).toEqual(['single-instance', 'ready', 'ipc', 'window(lock=app, journal=settled)', 'recovery-shown']);
    expect(rt.mode).toBe('owner');
    expect(reports[0]!.items[0]!.message).toContain('unreadable intent record');
    expect(recoverySummary(reports[0]!)).toBe('Recovery kept 1 item for you to check after the last run. Details: Help › Show Last Recovery Report.');
    expect(fs.lstatSync(path.join(home, 'control.sock')).isSocket()).toBe(true);
  });

  it('shows no report when recovery had nothing to do, and pushes engine events to the windows', async () => {
    const home = freshHome();
    const { p, steps, events } = platform(home);
    const rt = await started(p);
    expect(steps).not.toContain('recovery-shown');
    await expect(rt.api.boxes.create({ name: 'x', image: 'missing' })).rejects.toMatchObject({ code: 'NotFound' });
    rt.owner!.core.events.emit('boxes:changed', { boxId: null });
    expect(events).toContainEqual({ event: 'boxes:changed', payload: { boxId: null } });
  });

  it('leaves a second instance without touching the home', async () => {
    const home = freshHome();
    const { p, steps } = platform(home, { claimSingleInstance: () => false });
    expect(await startApp(p)).toBeNull();
    expect(steps).toEqual(['exit(0)']);
    expect(fs.existsSync(home)).toBe(false);
  });

  it('explains and exits when another boxkeep process holds the home', async () => {
    const home = freshHome();
    const core = path.join(ROOT, 'dist', 'electron', 'core', 'core.js');
    if (!fs.existsSync(core)) throw new Error('dist/ is not built: run the tests through vitest (its global setup builds it) or `npm run build:node`.');
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(core)}); await m.openCore({ home: ${JSON.stringify(home)}, owner: 'cli' }); console.log('holding'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void holder.kill('SIGKILL'));
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const { p, steps, fatals } = platform(home);
    expect(await startApp(p)).toBeNull();
    expect(steps).toEqual(['single-instance', 'ready', 'exit(1)']);
    expect(fatals[0]).toContain('Boxkeep cannot open its home: This Boxkeep home is in use by another boxkeep command');
    expect(fatals[0]).toContain(`pid ${holder.pid}`);
  });

  it('becomes a client of `boxkeep serve` when it already owns the home', async () => {
    const home = freshHome();
    const owner = await startOwner({ home, kind: 'host', logger: memoryLogger() });
    cleanups.push(() => owner.close());
    const { p, steps, events } = platform(home);
    const rt = await started(p);
    expect(rt.mode).toBe('forwarding');
    expect(rt.owner).toBeNull();
    expect(steps).toEqual(['single-instance', 'ready', 'ipc', 'window(lock=host, journal=settled)']);
    expect(await rt.api.boxes.list()).toEqual([]);
    owner.core.events.emit('boxes:changed', { boxId: null });
    const until = Date.now() + 1000;
    while (events.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(events).toContainEqual({ event: 'boxes:changed', payload: { boxId: null } });
  });
});
