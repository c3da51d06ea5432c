// The real `boxkeep` command (bin/boxkeep.mjs, built dist/) next to a running owner: it
// forwards over the control socket instead of fighting over the home, and `boxkeep serve`
// is such an owner.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readLock } from '../../electron/core/lock.js';
import { startWebHost, type WebHost } from '../../electron/host/web-host.js';
import { chunkRecorder, cli } from '../helpers/cli.js';
import { makeQcow2, tempHome } from '../helpers/disk.js';
import { ownedHome, type OwnedHome } from './host-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'boxkeep.cjs');


describe('boxkeep next to a running owner', () => {
  let h: OwnedHome;
  let host: WebHost;

  beforeAll(async () => {
    h = await ownedHome({ kind: 'app' });
    host = await startWebHost({ router: h.owner.router, staticDir: path.join(h.dir, 'none') });
  });
  afterAll(async () => {
    await host?.close();
    await h?.cleanup();
  });

  it('forwards a snapshot to the owner, whose page sees it within a second, and leaves the home lock alone', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`, { origin: `http://127.0.0.1:${host.port}` });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const seen: Array<{ event: string; payload: { boxId: string }; at: number }> = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'event') seen.push({ ...m, at: Date.now() });
    });
    const lockBefore = readLock(path.join(h.home, 'home.lock'));

    const r = await cli(h.home, ['snapshot', 'create', 'alpha', 'from the cli', '--description', 'forwarded']);
    const finished = Date.now();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.data).toMatchObject({ name: 'from the cli', description: 'forwarded', boxId: h.boxId });
    expect(h.owner.core.store.listSnapshots(h.boxId).map((s) => s.name)).toContain('from the cli');

    while (!seen.some((e) => e.event === 'snapshots:changed') && Date.now() - finished < 1000) await new Promise((res) => setTimeout(res, 10));
    expect(seen.find((e) => e.event === 'snapshots:changed')).toMatchObject({ payload: { boxId: h.boxId } });
    expect(readLock(path.join(h.home, 'home.lock'))).toEqual(lockBefore);
    expect(lockBefore).toMatchObject({ pid: process.pid, kind: 'app' });
    ws.close();
  });

  it('shows the owner\'s errors with their exit codes', async () => {
    const bad = await cli(h.home, ['snapshot', 'create', 'alpha', '../escape']);
    expect(bad.code).toBe(2);
    expect(bad.error).toMatchObject({ code: 'InvalidArgument' });
    expect(bad.error?.message).toContain('"../escape"');
    const missing = await cli(h.home, ['snapshot', 'show', 'alpha', 'nope']);
    expect(missing.code).toBe(3);
    expect(missing.error).toMatchObject({ code: 'NotFound' });
  });

  it('names the flag the user typed when the owner refuses an input, as with no owner', async () => {
    const refused = await cli(h.home, ['box', 'set', 'alpha', '--memory', '5']);
    expect(refused.code).toBe(2);
    expect(refused.error).toEqual({ code: 'InvalidArgument', message: '--memory must be at least 16 MiB.' });
    expect(h.owner.core.store.getBox(h.boxId)!.memoryMib).not.toBe(5);
  });

  it('a forwarded command loads neither the channel map nor the engine: the owner checks its input', async () => {
    const recorder = chunkRecorder(h.dir);
    const r = await cli(h.home, ['snapshot', 'create', 'alpha', 'quick'], { node: recorder.node });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.data).toMatchObject({ name: 'quick' });
    const sources = recorder.sources();
    expect(sources.some((src) => src.includes('function connectControl('))).toBe(true);
    // valibot's pipe(), the channel map, the engine's composition root.
    for (const marker of ['function pipe(', "'boxes:create'", '"boxes:create"', 'const openCore = ']) expect(sources.filter((src) => src.includes(marker)), marker).toEqual([]);
  });
});

describe('boxkeep serve', () => {
  let tmp: { dir: string; cleanup(): void };
  let child: ChildProcess | null = null;

  beforeAll(() => {
    tmp = tempHome('bkv');
  });
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    tmp?.cleanup();
  });

  it('owns the home, prints a token URL, serves other commands, logs operations, and exits cleanly on SIGTERM', async () => {
    const home = path.join(tmp.dir, 'home');
    const logs = path.join(tmp.dir, 'logs');
    const seed = path.join(tmp.dir, 'seed.qcow2');
    makeQcow2(seed, 16 * 1024 * 1024);
    child = spawn(process.execPath, [BIN, '--home', home, '--json', 'serve'], { env: { ...process.env, BOXKEEP_LOG_DIR: logs }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const until = Date.now() + 20_000;
    while (!out.includes('\n') && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    expect(err).toBe('');
    const printed = JSON.parse(out.split('\n')[0]!) as { url: string; port: number; mode: string };
    expect(printed.mode).toBe('owner');
    expect(printed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    expect(readLock(path.join(home, 'home.lock'))).toMatchObject({ pid: child.pid, kind: 'host' });

    const status = (url: string) => new Promise<number>((resolve, reject) => http.get(url, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject));
    // The API needs the token; the page itself is the public UI build (no renderer build is
    // needed here: without one the page explains what is missing).
    expect(await status(`http://127.0.0.1:${printed.port}/ws`)).toBe(426);
    expect([200, 503]).toContain(await status(printed.url));

    const image = await cli(home, ['image', 'import', seed, '--name', 'seed']);
    expect(image.code).toBe(0);
    const box = await cli(home, ['box', 'create', 'web', '--image', 'seed']);
    expect(box.code).toBe(0);
    const snap = await cli(home, ['snapshot', 'create', 'web', 'first']);
    expect(snap.code).toBe(0);
    const snapId = (snap.data as { id: string }).id;
    const boxId = (box.data as { id: string }).id;

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(fs.existsSync(path.join(home, 'control.sock'))).toBe(false);
    expect(fs.existsSync(path.join(home, 'home.lock'))).toBe(false);

    const log = fs.readFileSync(path.join(logs, 'serve.log'), 'utf8');
    const line = log.split('\n').find((l) => l.includes('snapshots:create {'));
    expect(line).toBeDefined();
    const fields = JSON.parse(line!.slice(line!.indexOf('{')));
    expect(fields).toMatchObject({ op: 'snapshots:create', boxId, snapshotId: snapId, via: 'cli' });
    expect(typeof fields.elapsed_ms).toBe('number');

    // With nobody serving, the command owns the home itself again.
    const list = await cli(home, ['snapshot', 'list', 'web']);
    expect(list.code).toBe(0);
    expect(JSON.stringify(list.data)).toContain('"first"');
  });

  it('refuses a port out of range before touching the home', async () => {
    const r = await cli(path.join(tmp.dir, 'untouched'), ['serve', '--port', '70000']);
    expect(r.code).toBe(2);
    expect(r.error?.message).toContain('between 1 and 65535');
    expect(fs.existsSync(path.join(tmp.dir, 'untouched'))).toBe(false);
  });
});
