// The guest agent client against a scripted guest on a unix socket (the bytes QEMU relays
// from the guest's port): the guest is untrusted, so what it sends must never grow our memory
// without bound, whether a call waits for a reply or not.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestAgent } from '../../electron/core/vm/agent.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bka-'));
const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Guest = (line: Record<string, unknown>, sock: net.Socket) => void;

/** A guest that answers guest-sync-delimited like qemu-ga (0xFF, then the reply) and hands every other command to `rest`. */
async function fakeGuest(rest: Guest): Promise<{ socketPath: string; peer: () => net.Socket }> {
  const socketPath = path.join(dir, `g${Math.random().toString(16).slice(2, 8)}.sock`);
  let peer: net.Socket | null = null;
  const server = net.createServer((sock) => {
    peer = sock;
    let buf = '';
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf += d.toString('latin1').replace(/\xff/g, '');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        if (msg.execute === 'guest-sync-delimited') {
          sock.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: (msg.arguments as { id: number }).id }) + '\n')]));
        } else rest(msg, sock);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(socketPath, r));
  return { socketPath, peer: () => peer! };
}

/** Writes `total` bytes of `byte` (no newline) as fast as the socket takes them; resolves how many went. */
function flood(sock: net.Socket, total: number): Promise<number> {
  const chunk = Buffer.alloc(1 << 20, 'a');
  let sent = 0;
  return new Promise((resolve) => {
    const more = () => {
      while (sent < total && !sock.destroyed) {
        sent += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', more);
      }
      resolve(sent);
    };
    sock.once('close', () => resolve(sent));
    more();
  });
}

describe('GuestAgent against a hostile guest', () => {
  it('a reply line that never ends is refused as too long, not buffered until the call times out', async () => {
    const guest = await fakeGuest((msg, sock) => {
      if (msg.execute === 'guest-fsfreeze-status') void flood(sock, 16 << 20);
    });
    const agent = await GuestAgent.connect(guest.socketPath, { syncTimeoutMs: 5000 });
    expect(agent).not.toBeNull();
    const started = Date.now();
    await expect(agent!.call('guest-fsfreeze-status', undefined, 20_000)).rejects.toThrow(/too long/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('bytes the guest sends while no call waits are not kept without bound: the connection is dropped', async () => {
    const guest = await fakeGuest(() => undefined);
    const agent = await GuestAgent.connect(guest.socketPath, { syncTimeoutMs: 5000 });
    expect(agent).not.toBeNull();
    // 16 MiB of lines nobody asked for (an idle connection, as a stop holds it after guest-shutdown).
    const lines = Buffer.from('{"return": 1}\n'.repeat(1 << 16));
    const sock = guest.peer();
    let sent = 0;
    await new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      const more = () => {
        while (sent < 16 << 20 && !sock.destroyed) {
          sent += lines.length;
          if (!sock.write(lines)) return void sock.once('drain', more);
        }
        resolve();
      };
      more();
    });
    // The client hung up well before taking all of it.
    expect(sock.destroyed || sent < 16 << 20).toBe(true);
    await expect(agent!.call('guest-fsfreeze-status', undefined, 2000)).rejects.toThrow(/too long|unasked|closed/);
  });
});
