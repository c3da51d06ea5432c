// The QMP client against a scripted fake QEMU on a unix socket: framing, ids, errors,
// timeouts, events and close, without booting anything.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BoxkeepError } from '../../shared/errors.js';
import { executeInOrder, isTimeout, QmpClient } from '../../electron/core/vm/qmp.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bkq-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const GREETING = { QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: '' }, capabilities: [] } };

interface Fake {
  socketPath: string;
  received: Record<string, unknown>[];
  peer: () => net.Socket;
  close(): Promise<void>;
}

type Responder = (msg: Record<string, unknown>, write: (obj: unknown) => void, sock: net.Socket) => void;

/** A fake QEMU: greets, accepts qmp_capabilities, then hands every command to `respond`. */
async function fakeQemu(respond: Responder, opts: { delayListenMs?: number; greet?: boolean } = {}): Promise<Fake> {
  const socketPath = path.join(dir, `q${Math.random().toString(16).slice(2, 8)}.sock`);
  const received: Record<string, unknown>[] = [];
  let peer: net.Socket | null = null;
  const server = net.createServer((sock) => {
    peer = sock;
    const write = (obj: unknown) => sock.write(JSON.stringify(obj) + '\r\n');
    if (opts.greet !== false) write(GREETING);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        received.push(msg);
        if (msg.execute === 'qmp_capabilities') write({ return: {}, id: msg.id });
        else respond(msg, write, sock);
      }
    });
    sock.on('error', () => {});
  });
  const listen = () => new Promise<void>((resolve) => server.listen(socketPath, resolve));
  if (opts.delayListenMs) setTimeout(() => void listen(), opts.delayListenMs);
  else await listen();
  return {
    socketPath,
    received,
    peer: () => peer!,
    close: () => new Promise((resolve) => {
      peer?.destroy();
      server.close(() => resolve());
    }),
  };
}

const fakes: Fake[] = [];
const clients: QmpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const f of fakes.splice(0)) await f.close();
});
async function setup(respond: Responder, opts?: Parameters<typeof fakeQemu>[1]) {
  const fake = await fakeQemu(respond, opts);
  fakes.push(fake);
  const qmp = await QmpClient.connect(fake.socketPath, { timeoutMs: 2000 });
  clients.push(qmp);
  return { fake, qmp };
}

describe('QmpClient', () => {
  it('waits for a socket that appears late, reads the greeting and negotiates capabilities', async () => {
    const fake = await fakeQemu(() => {}, { delayListenMs: 80 });
    fakes.push(fake);
    const qmp = await QmpClient.connect(fake.socketPath, { timeoutMs: 2000 });
    clients.push(qmp);
    expect(qmp.greeting?.version.qemu.major).toBe(7);
    expect(fake.received[0]).toMatchObject({ execute: 'qmp_capabilities' });
  });

  it('says which socket it could not reach once the deadline passes', async () => {
    await expect(QmpClient.connect(path.join(dir, 'absent.sock'), { timeoutMs: 100 })).rejects.toThrow(/Could not connect to QMP at .*absent\.sock within 100 ms/);
  });

  it('fails fast when QEMU is already gone', async () => {
    const started = Date.now();
    await expect(QmpClient.connect(path.join(dir, 'absent.sock'), { timeoutMs: 5000, isAlive: () => false })).rejects.toThrow(/QEMU exited before/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports a silent monitor (another client holds it) instead of hanging', async () => {
    const fake = await fakeQemu(() => {}, { greet: false });
    fakes.push(fake);
    await expect(QmpClient.connect(fake.socketPath, { timeoutMs: 150 })).rejects.toThrow(/no greeting within .*another client/);
  });

  it('matches replies to commands by id, even out of order and split across chunks', async () => {
    const held: Array<() => void> = [];
    const { qmp } = await setup((msg, _write, sock) => {
      const reply = JSON.stringify({ return: { echo: msg.execute }, id: msg.id }) + '\n';
      // Reply to the first command last, one byte at a time.
      if (msg.execute === 'first') held.push(() => { for (const ch of reply) sock.write(ch); });
      else {
        sock.write(reply.slice(0, 5));
        setTimeout(() => { sock.write(reply.slice(5)); held.forEach((f) => f()); }, 20);
      }
    });
    const [a, b] = await Promise.all([qmp.execute('first'), qmp.execute('second', { x: 1 })]);
    expect(a).toEqual({ echo: 'first' });
    expect(b).toEqual({ echo: 'second' });
  });

  it('sends arguments and turns error replies into Vm errors naming the command', async () => {
    const { qmp, fake } = await setup((msg, write) => write({ error: { class: 'GenericError', desc: 'Node q9 not found' }, id: msg.id }));
    const err = await qmp.execute('blockdev-del', { 'node-name': 'q9' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BoxkeepError);
    expect(err).toMatchObject({ code: 'Vm', message: 'blockdev-del failed: Node q9 not found' });
    expect(fake.received.at(-1)).toMatchObject({ execute: 'blockdev-del', arguments: { 'node-name': 'q9' } });
  });

  it('times out a command that gets no reply and says which one', async () => {
    const { qmp } = await setup(() => {});
    await expect(qmp.execute('query-status', undefined, { timeoutMs: 50 })).rejects.toThrow('QMP command query-status timed out after 50 ms');
  });

  it('marks a timeout as one (QEMU may still run the command), and an error reply as not one', async () => {
    const silent = await setup(() => {});
    expect(isTimeout(await silent.qmp.execute('query-status', undefined, { timeoutMs: 20 }).catch((e: unknown) => e))).toBe(true);
    const refusing = await setup((msg, write) => write({ error: { class: 'GenericError', desc: 'no' }, id: msg.id }));
    expect(isTimeout(await refusing.qmp.execute('query-status').catch((e: unknown) => e))).toBe(false);
  });

  it('delivers events to listeners and to waitForEvent with a predicate', async () => {
    const { qmp, fake } = await setup((msg, write) => write({ return: {}, id: msg.id }));
    const seen: string[] = [];
    const off = qmp.on('*', (e) => seen.push(e.event));
    const done = qmp.waitForEvent('BLOCK_JOB_COMPLETED', (e) => e.data?.device === 'rm-2');
    const write = (obj: unknown) => fake.peer().write(JSON.stringify(obj) + '\n');
    write({ event: 'BLOCK_JOB_COMPLETED', data: { device: 'rm-1' } });
    write({ event: 'BLOCK_JOB_COMPLETED', data: { device: 'rm-2', len: 5 } });
    expect((await done).data).toEqual({ device: 'rm-2', len: 5 });
    off();
    write({ event: 'STOP' });
    await expect(qmp.waitForEvent('NEVER', undefined, 50)).rejects.toThrow('QMP event NEVER did not arrive within 50 ms');
    expect(seen).toEqual(['BLOCK_JOB_COMPLETED', 'BLOCK_JOB_COMPLETED']);
  });

  it('fires onClose, fails commands in flight and waits, when QEMU goes away', async () => {
    const { qmp, fake } = await setup(() => {});
    const closed = new Promise<Error | null>((resolve) => qmp.onClose(resolve));
    const inFlight = qmp.execute('query-status');
    const waiting = qmp.waitForEvent('SHUTDOWN');
    await new Promise((r) => setTimeout(r, 20));
    fake.peer().destroy();
    await closed;
    await expect(inFlight).rejects.toThrow('query-status failed: QEMU closed the QMP connection');
    await expect(waiting).rejects.toThrow(/closed its QMP connection while waiting for SHUTDOWN/);
    expect(qmp.closed).toBe(true);
    await expect(qmp.execute('cont')).rejects.toThrow('cont failed: the QMP connection is closed');
    // A late subscriber still hears about it.
    await new Promise<void>((resolve) => qmp.onClose(() => resolve()));
  });

  it('executeInOrder sends a batch without waiting for each reply and throws its first failure once every reply is in', async () => {
    // The fake answers nothing until the whole batch has arrived: a client waiting for each reply would hang.
    const held: [Record<string, unknown>, (obj: unknown) => void][] = [];
    const answered: string[] = [];
    const { qmp } = await setup((msg, write) => {
      held.push([msg, write]);
      if (held.length < 3) return;
      for (const [m, w] of held.splice(0)) {
        answered.push(String(m.execute));
        w(m.execute === 'second' ? { error: { class: 'GenericError', desc: 'Node q9 is in use' }, id: m.id } : { return: { echo: m.execute }, id: m.id });
      }
    });
    const failed = await executeInOrder(qmp, [['first'], ['second', { 'node-name': 'q9' }], ['third']]).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(BoxkeepError);
    expect((failed as Error).message).toBe('second failed: Node q9 is in use');
    expect(answered).toEqual(['first', 'second', 'third']);
    expect(await executeInOrder(qmp, [['a'], ['b'], ['c']])).toEqual([{ echo: 'a' }, { echo: 'b' }, { echo: 'c' }]);
  });
});
