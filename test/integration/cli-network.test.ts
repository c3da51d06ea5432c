// A box's network and settings through the real CLI and a real guest: port forwards reach the
// guest's httpd, `none` leaves the guest without a card, a taken host port fails the start
// clearly, and `box set` changes what the guest sees at its next start. One box, booted a few
// times; each boot is checked from inside the guest over its serial console.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, BoxDetail, StopResult } from '../../shared/types.js';
import { BIN, cliOk, cliSync } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { createTinyGuestBox, GUEST_HTTPD_MARKER, startAndAttach, type SerialDriver } from '../helpers/guest.js';

let tmp: { dir: string; cleanup(): void };
let home: string;
let box: Box;
let port: number;
let serial: SerialDriver | null = null;
const boxkeep = (...args: string[]) => cliSync(home, args);
const ok = <T>(...args: string[]) => cliOk<T>(home, args);
/** As a person sees it: without --json. */
const text = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, '--home', home, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** Starts the box with the CLI and attaches to its console once the guest is ready. */
async function boot(): Promise<string> {
  serial?.close();
  const runDir = path.join(home, 'boxes', box.id, 'run');
  const started = await startAndAttach(() => ok('box', 'start', box.name), path.join(runDir, 'serial.sock'), path.join(home, 'boxes', box.id, 'logs', 'serial.log'));
  serial = started.serial;
  return started.ready;
}

async function inGuest(cmd: string): Promise<string> {
  const r = await serial!.run(cmd, 20_000);
  expect(r.status, `${cmd} in the guest: ${r.output}`).toBe(0);
  return r.output.trim();
}

function stop(): StopResult {
  serial?.close();
  serial = null;
  return ok<StopResult>('box', 'stop', box.name, '--force');
}

const row = () => {
  const db = new Database(path.join(home, 'boxkeep.db'), { readonly: true });
  try {
    return db.prepare('SELECT cpus, memory_mib, disk_size, network, forwards, stop_timeout_sec, pending_restart FROM boxes WHERE id = ?').get(box.id) as Record<string, unknown>;
  } finally {
    db.close();
  }
};

beforeAll(async () => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'mkfs.ext4', 'cpio', 'busybox');
  tmp = tempHome('bknet');
  home = path.join(tmp.dir, 'h');
  port = await freePort();
  box = createTinyGuestBox<Box>(ok, tmp.dir, 'web', ['--forward', `${port}:80`]);
});

afterAll(() => {
  serial?.close();
  for (const name of ['web', 'other']) boxkeep('box', 'stop', name, '--force');
  tmp?.cleanup();
});

describe('network and port forwards', () => {
  it('a forward from a host port reaches the guest httpd on its virtio-net card', async () => {
    expect(box).toMatchObject({ network: 'nat', forwards: [{ hostAddress: '127.0.0.1', hostPort: port, guestPort: 80, protocol: 'tcp' }] });
    expect(box.macAddress).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(await boot()).toMatch(/net=eth0:10\.0\.2\.15$/);
    expect((await inGuest('ls /sys/class/net')).split(/\s+/).sort()).toEqual(['eth0', 'lo']);
    expect(await inGuest('cat /sys/class/net/eth0/address')).toBe(box.macAddress);
    const page = await get(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(GUEST_HTTPD_MARKER);
  });

  it('a second box forwarding the same host port is refused at start, naming the box that has it', () => {
    ok('box', 'create', 'other', '--image', 'tiny', '--memory', '128', '--forward', `0.0.0.0:${port}:22`);
    const r = boxkeep('box', 'start', 'other');
    expect(r.code).toBe(5);
    expect(JSON.parse(r.err).error.message).toMatch(new RegExp(`host port ${port}/tcp .*running box "web" already forwards`));
    expect(ok<Box>('box', 'show', 'other').status).toBe('configured');
  });

  it('a change to the running box is stored and waits for the next start; network none then has no card', async () => {
    const set = text('box', 'set', 'web', '--network', 'none');
    expect(set.code).toBe(0);
    expect(set.out).toContain('applies at the next start');
    const shown = ok<BoxDetail>('box', 'show', 'web');
    expect(shown).toMatchObject({ network: 'none', pendingRestart: true, status: 'running' });
    expect(row()).toMatchObject({ network: 'none', pending_restart: 1 });
    expect(stop().forced).toBe(true);
    const ready = await boot();
    expect(ready).toMatch(/net=none$/);
    expect(await inGuest('ls /sys/class/net')).toBe('lo');
    expect(ok<Box>('box', 'show', 'web').pendingRestart).toBe(false);
    await expect(get(`http://127.0.0.1:${port}/`)).rejects.toThrow(/ECONNREFUSED/);
    stop();
  });

  it('a host port some other program holds fails the start naming the port, and leaves the box stopped', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(port, '127.0.0.1', resolve));
    try {
      expect(ok<Box>('box', 'set', 'web', '--network', 'nat').forwards).toHaveLength(1);
      const r = boxkeep('box', 'start', 'web');
      expect(r.code).toBe(5);
      const error = JSON.parse(r.err).error;
      expect(error.code).toBe('InvalidState');
      expect(error.message).toContain(`the host port ${port}/tcp on 127.0.0.1 is already in use by another program`);
      const after = ok<Box>('box', 'show', 'web');
      expect(after.status).toBe('stopped');
      expect(after.failureReason).toBeNull();
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });
});

describe('box set', () => {
  it('stores each field (row and box show) and the guest sees them at the next start', async () => {
    const r = ok<Box>('box', 'set', 'web', '--cpus', '2', '--memory', '200', '--disk-size', '2', '--stop-timeout', '7', '--no-forwards');
    expect(r).toMatchObject({ cpus: 2, memoryMib: 200, diskSize: 2 * GiB, stopTimeoutSec: 7, forwards: [], pendingRestart: false });
    expect(row()).toMatchObject({ cpus: 2, memory_mib: 200, disk_size: 2 * GiB, stop_timeout_sec: 7, forwards: '[]', network: 'nat' });
    const shown = ok<BoxDetail>('box', 'show', 'web');
    expect(shown).toMatchObject({ cpus: 2, memoryMib: 200, diskSize: 2 * GiB, stopTimeoutSec: 7, forwards: [] });
    expect(shown.chain[0]!.virtualSize).toBe(2 * GiB);
    await boot();
    expect(await inGuest('nproc')).toBe('2');
    const memKiB = Number(/MemTotal:\s+(\d+) kB/.exec(await inGuest('cat /proc/meminfo'))![1]);
    expect(memKiB).toBeGreaterThan(150 * 1024); // 200 MiB less what the kernel keeps; 128 MiB before
    expect(memKiB).toBeLessThanOrEqual(200 * 1024);
    expect(Number(await inGuest('cat /sys/block/vda/size')) * 512).toBe(2 * GiB);
    // The guest has no ACPI daemon: the stop waits the 7 s it was given, then cuts it off, and says so.
    serial?.close();
    serial = null;
    const started = Date.now();
    const stopped = text('box', 'stop', 'web');
    expect(stopped.out.trim()).toBe('Box "web" is stopped (forced: the guest did not shut down within the stop timeout).');
    expect(Date.now() - started).toBeGreaterThanOrEqual(7000);
  });

  it('refuses to shrink the disk, saying it would cut off data, and changes nothing', () => {
    const r = boxkeep('box', 'set', 'web', '--disk-size', '1', '--cpus', '1');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.err).error.message).toMatch(/is 2 GiB; shrinking it to 1 GiB would cut off whatever the guest stored/);
    expect(row()).toMatchObject({ cpus: 2, disk_size: 2 * GiB });
  });

  it('refuses a bad forward and conflicting flags before anything changes', () => {
    const bad = boxkeep('box', 'set', 'web', '--forward', '8080:80', '--forward', '8080:22');
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.err).error.message).toMatch(/--forward "8080:22" uses the host port 8080\/tcp/);
    const both = boxkeep('box', 'set', 'web', '--forward', '8080:80', '--no-forwards');
    expect(both.code).toBe(2);
    expect(JSON.parse(both.err).error.message).toContain('Give --forward or --no-forwards, not both.');
    expect(boxkeep('box', 'set', 'web').code).toBe(2);
    expect(row()).toMatchObject({ forwards: '[]' });
  });

  it('forwards given to a box with no network card are kept for when it has one, and the command says so', () => {
    const made = text('box', 'create', 'cardless', '--image', 'tiny', '--network', 'none', '--forward', '18081:80');
    expect(made.code).toBe(0);
    expect(made.out).toContain('network none (no network card; the forwards 127.0.0.1:18081:80/tcp wait, unused, until the network is nat)');
    const back = text('box', 'set', 'cardless', '--network', 'nat');
    expect(back.out).toContain('network nat, forwards 127.0.0.1:18081:80/tcp');
    expect(text('box', 'set', 'cardless', '--network', 'none').out).toContain('no network card; the forwards 127.0.0.1:18081:80/tcp wait, unused');
    expect(boxkeep('box', 'remove', 'cardless').code).toBe(0);
  });
});
