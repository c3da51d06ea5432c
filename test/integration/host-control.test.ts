// The control socket in the home, with the real core: what the CLI reaches when an owner runs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxkeepError } from '../../shared/errors.js';
import { connectControl } from '../../electron/host/control-client.js';
import { startControlServer } from '../../electron/host/control-server.js';
import { startOwner } from '../../electron/host/owner.js';
import { tempHome } from '../helpers/disk.js';
import { memoryLogger, nextEvent, ownedHome, type OwnedHome } from './host-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('control socket', () => {
  let h: OwnedHome;
  beforeAll(async () => {
    h = await ownedHome({ kind: 'app' });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('listens at <home>/control.sock, readable and writable by this user only', () => {
    const sock = path.join(h.home, 'control.sock');
    expect(h.owner.control?.endpoint).toBe(sock);
    const stat = fs.lstatSync(sock);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
  });

  it('runs channels for a client and returns the owner\'s rows', async () => {
    const client = await connectControl(path.join(h.home, 'control.sock'));
    expect(client).not.toBeNull();
    try {
      const boxes = (await client!.invoke('boxes:list', {})) as Array<{ name: string }>;
      expect(boxes.map((b) => b.name)).toEqual(['alpha']);
      const events = nextEvent<{ boxId: string }>((l) => client!.on('snapshots:changed', l), (p) => p.boxId === h.boxId);
      const snap = (await client!.invoke('snapshots:create', { box: 'alpha', name: 'via socket' })) as { id: string };
      await events;
      expect(h.owner.core.store.listSnapshots(h.boxId).map((s) => s.id)).toContain(snap.id);
    } finally {
      client!.close();
    }
  });

  it('rebuilds errors with their code and message', async () => {
    const client = (await connectControl(path.join(h.home, 'control.sock')))!;
    try {
      const err = await client.invoke('snapshots:create', { box: 'alpha', name: 'a/b' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BoxkeepError);
      expect(err).toMatchObject({ code: 'InvalidArgument' });
      expect((err as Error).message).toContain('contains "/"');
      await expect(client.invoke('boxes:get', { box: 'ghost' })).rejects.toMatchObject({ code: 'NotFound' });
    } finally {
      client.close();
    }
  });

  it('answers a line over 1 MB with InvalidArgument and hangs up', async () => {
    const socket = net.connect(path.join(h.home, 'control.sock'));
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (reply += c));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('x'.repeat(1_100_000));
    await closed;
    expect(JSON.parse(reply.trim())).toMatchObject({ type: 'result', id: -1, ok: false, error: { code: 'InvalidArgument', message: expect.stringContaining('larger than 1 MB') } });
  });

  it('notices a change another process wrote to the database and tells subscribers within a second', async () => {
    const client = (await connectControl(path.join(h.home, 'control.sock')))!;
    try {
      const heard: number[] = [];
      client.on('boxes:changed', (p) => p.boxId === null && heard.push(Date.now()));
      const sqlite = path.join(ROOT, 'node_modules', 'better-sqlite3');
      const script = `const D = require(${JSON.stringify(sqlite)}); const db = new D(${JSON.stringify(path.join(h.home, 'boxkeep.db'))}); db.prepare("UPDATE boxes SET cpus = 2 WHERE id = ?").run(${JSON.stringify(h.boxId)}); db.close();`;
      const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit' });
      expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
      // The clock starts when the other process has committed (it has exited), not at its spawn.
      const written = Date.now();
      while (heard.length === 0 && Date.now() - written < 3000) await new Promise((r) => setTimeout(r, 10));
      expect(heard.length).toBeGreaterThan(0);
      expect(heard[0]! - written).toBeLessThan(1000);
      expect(h.owner.core.store.getBox(h.boxId)?.cpus).toBe(2);
    } finally {
      client.close();
    }
  });

  it('tells a caller that nobody is home when no owner runs', async () => {
    const tmp = tempHome('bkn');
    try {
      expect(await connectControl(path.join(tmp.dir, 'control.sock'))).toBeNull();
    } finally {
      tmp.cleanup();
    }
  });

  it('treats a socket left by a crashed owner as nobody home, and a new owner replaces it', async () => {
    const tmp = tempHome('bks');
    const sock = path.join(tmp.dir, 'home', 'control.sock');
    fs.mkdirSync(path.dirname(sock));
    try {
      // A process that listens and then dies by SIGKILL leaves its socket file behind.
      const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(fs.lstatSync(sock).isSocket()).toBe(true);
      expect(await connectControl(sock)).toBeNull();

      const owner = await startOwner({ home: path.join(tmp.dir, 'home'), kind: 'test', logger: memoryLogger() });
      try {
        const client = (await connectControl(sock))!;
        expect(await client.invoke('boxes:list', {})).toEqual([]);
        client.close();
      } finally {
        await owner.close();
      }
      expect(fs.existsSync(sock)).toBe(false);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses to replace a file that is not a socket', async () => {
    const tmp = tempHome('bkf');
    try {
      const sock = path.join(tmp.dir, 'control.sock');
      fs.writeFileSync(sock, 'precious');
      await expect(startControlServer({ router: h.owner.router, socketPath: sock })).rejects.toThrow(/is not a socket; move it out/);
      expect(fs.readFileSync(sock, 'utf8')).toBe('precious');
    } finally {
      tmp.cleanup();
    }
  });

  it('rejects calls in flight when the owner goes away, saying it may have quit', async () => {
    const tmp = tempHome('bkq');
    const owner = await startOwner({ home: path.join(tmp.dir, 'home'), kind: 'test', logger: memoryLogger() });
    try {
      const client = (await connectControl(path.join(tmp.dir, 'home', 'control.sock')))!;
      await owner.control!.close();
      await expect(client.invoke('boxes:list', {})).rejects.toThrow(/closed the connection|connection to the Boxkeep app is closed/);
    } finally {
      await owner.close();
      tmp.cleanup();
    }
  });
});
