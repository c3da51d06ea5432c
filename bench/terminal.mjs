// Terminal benchmarks (issue 11): keystroke echo round trip through each transport (in process,
// the control socket, the web host's WebSocket), median and p99, beside the floor: the same
// write and read on QEMU's raw serial socket. Then throughput: the guest prints 10 MiB, timed
// until the last byte has come through the stream, beside the raw socket.
//
// The tiny guest runs `stty -echo`; `stty echo` turns the tty's echo back on, so a typed byte
// comes back from the guest's line discipline: the round trip is host → QEMU → guest kernel →
// QEMU → host, what a person feels as keystroke latency. Lines start with '#' so the guest's
// shell reads them as comments. Throughput is measured in Node at the end of each transport
// (not drawn by a renderer). The floor runs first (nothing else may hold QEMU's one serial
// connection then), so each of its measurements runs twice and the second counts: the first
// warms the guest and this process up.
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { median, requireBuilt, round, tempDir } from './lib.mjs';

requireBuilt();
const { openCore } = await import('../dist/electron/core/core.js');
const { createRouter } = await import('../dist/electron/core/router.js');
const { startControlServer } = await import('../dist/electron/host/control-server.js');
const { connectControl } = await import('../dist/electron/host/control-client.js');
const { startWebHost } = await import('../dist/electron/host/web-host.js');
const { StreamClient, encodeDataFrame, decodeDataFrame } = await import('../dist/shared/stream-wire.js');
const { readHostMessage } = await import('../dist/shared/wire.js');
const { serialSocketPath } = await import('../dist/electron/core/vm/qemu.js');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const KEYS = 200;
const BYTES = 10 * 1024 * 1024;

const p99 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];

/** Bytes in, bytes out, a wait for text: the same over a raw socket or a ByteStream. */
class Pipe {
  constructor(write) {
    this.write = write;
    this.text = '';
    this.received = 0;
    this.wake = null;
  }
  take(bytes) {
    this.received += bytes.length;
    this.text += Buffer.from(bytes).toString('latin1');
    if (this.text.length > 4096) this.text = this.text.slice(-4096);
    this.wake?.();
  }
  async until(test, ms = 120_000) {
    const end = Date.now() + ms;
    while (!test()) {
      if (Date.now() > end) throw new Error(`timed out; last output ${JSON.stringify(this.text.slice(-200))}`);
      await new Promise((r) => { this.wake = r; setTimeout(r, 50); });
    }
  }
  async line(cmd, marker) {
    this.text = '';
    this.write(Buffer.from(cmd + '\n'));
    await this.until(() => this.text.includes(marker));
  }
}

const fromSocket = (socket) => {
  const p = new Pipe((b) => socket.write(b));
  socket.on('data', (b) => p.take(b));
  return p;
};
export const fromStream = (stream) => {
  const p = new Pipe((b) => stream.write(b));
  stream.onData((b) => p.take(b));
  return p;
};

async function echoRoundTrips(pipe) {
  // Markers are computed by the guest: the echo of the typed line itself never matches them.
  await pipe.line('stty echo; echo ECHO-ON-$((1+1))', 'ECHO-ON-2');
  const samples = [];
  for (let i = 0; i < KEYS; i++) {
    if (i % 50 === 0) {
      pipe.text = '';
      pipe.write(Buffer.from(i === 0 ? '#' : '\n#'));
      await pipe.until(() => pipe.text.includes('#'));
    }
    pipe.text = '';
    const t0 = performance.now();
    pipe.write(Buffer.from('k'));
    await pipe.until(() => pipe.text.includes('k'), 5000);
    samples.push(performance.now() - t0);
  }
  await pipe.line('\nstty -echo; echo ECHO-OFF-$((1+1))', 'ECHO-OFF-2');
  return samples;
}

async function throughput(pipe) {
  pipe.text = '';
  const start = pipe.received;
  const t0 = performance.now();
  pipe.write(Buffer.from(`dd if=/dev/zero bs=1024 count=${BYTES / 1024} 2>/dev/null | tr '\\0' a; echo; echo TPUT-DONE\n`));
  await pipe.until(() => pipe.received - start >= BYTES && pipe.text.includes('TPUT-DONE'), 600_000);
  return performance.now() - t0;
}

/** A stream (a console, or a screen with 'displays:open') through the web host's WebSocket, as the page gets it. */
export async function wsStream(host, box, channel = 'consoles:open') {
  const ws = new WebSocket(`ws://127.0.0.1:${host.port}/ws?token=${host.token}`, { origin: `http://127.0.0.1:${host.port}` });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const client = new StreamClient({ sendMessage: (m) => ws.send(JSON.stringify(m)), sendData: (id, b) => ws.send(encodeDataFrame(id, b)) });
  ws.on('message', (data, binary) => {
    if (binary) {
      const f = decodeDataFrame(data);
      if (f.ok) client.receiveData(f.stream, f.bytes);
    } else {
      const m = readHostMessage(data.toString());
      if (m?.type.startsWith('stream-')) client.receive(m);
    }
  });
  const stream = await client.open(channel, { box });
  return { stream, close: () => ws.close() };
}

/**
 * The tiny guest as the box `name` of an in-process core, started, with QEMU's raw serial
 * socket held by this process (nothing else may hold its one connection meanwhile) and the
 * guest answering on it. Close `socket` before opening any console stream.
 */
export async function bootWithRawSerial(core, dir, name) {
  const g = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs')], { encoding: 'utf8' }).trim().split('\n').pop());
  const disk = path.join(dir, 'd.qcow2');
  execFileSync(process.execPath, [path.join(root, 'scripts/build-guest.mjs'), '--data-disk', disk, '--size', '32M']);
  await core.images.import({ path: disk, name: 'tiny', kernelPath: g.kernel, initrdPath: g.initrd, append: 'console=ttyS0 panic=-1 quiet' });
  const box = await core.boxes.create({ name, image: 'tiny' });
  await core.vms.start(box.id);
  const socket = await new Promise((resolve, reject) => {
    const s = net.connect(serialSocketPath(core.vms.session(box.id).runDir));
    s.once('connect', () => resolve(s)).once('error', reject);
  });
  const raw = fromSocket(socket);
  await raw.until(() => raw.text.includes('BOXKEEP-GUEST-READY') || core.vms.session(box.id) === null, 120_000).catch(async () => {
    // The ready line may have gone to the log before we connected: ask the guest instead.
    await raw.line('echo ALIVE-$((1+1))', 'ALIVE-2');
  });
  await raw.line('echo ALIVE-$((1+1))', 'ALIVE-2');
  return { box, socket, raw };
}

export async function terminalBenchmarks() {
  const dir = tempDir('bktm-');
  const core = await openCore({ home: path.join(dir, 'h'), owner: 'test', supervisor: { stopTimeoutMs: 1000 } });
  const rows = [];
  const cleanups = [];
  try {
    // The floor first, while nothing else holds QEMU's one serial connection.
    const { box, socket, raw } = await bootWithRawSerial(core, dir, 'term');
    await echoRoundTrips(raw);
    const floor = await echoRoundTrips(raw);
    await throughput(raw);
    const floorTput = await throughput(raw);
    socket.destroy();
    await new Promise((r) => setTimeout(r, 200));

    const router = createRouter(core);
    const control = await startControlServer({ router, socketPath: path.join(dir, 'c.sock') });
    cleanups.push(() => control.close());
    const client = await connectControl(path.join(dir, 'c.sock'));
    cleanups.push(() => client.close());
    const host = await startWebHost({ router, staticDir: path.join(dir, 'none') });
    cleanups.push(() => host.close());

    const transports = [
      ['in process', async () => ({ stream: await router.openStream('consoles:open', { box: box.id }), close() {} })],
      ['control socket', async () => ({ stream: await client.openStream('consoles:open', { box: box.id }), close() {} })],
      ['web host WebSocket', () => wsStream(host, box.id)],
    ];
    const floorMs = median(floor);
    rows.push({ name: 'keystroke echo, raw serial socket (floor)', median_ms: round(floorMs), floor_ms: null, ratio: null, target: `p99 ${round(p99(floor))} ms` });
    for (const [name, open] of transports) {
      const { stream, close } = await open();
      const pipe = fromStream(stream);
      await pipe.line('echo ALIVE-$((1+1))', 'ALIVE-2');
      const samples = await echoRoundTrips(pipe);
      const m = median(samples);
      rows.push({ name: `keystroke echo, ${name}`, median_ms: round(m), floor_ms: round(floorMs), ratio: round(m / floorMs), target: `within 5 ms of the floor (+${round(m - floorMs)}); p99 ${round(p99(samples))} ms` });
      const t = await throughput(pipe);
      rows.push({ name: `guest prints 10 MiB, ${name}`, median_ms: round(t), floor_ms: round(floorTput), ratio: round(t / floorTput), target: `report (${round(BYTES / 1024 / (t / 1000))} KiB/s)` });
      stream.close();
      close();
    }
    rows.push({ name: 'guest prints 10 MiB, raw serial socket (floor)', median_ms: round(floorTput), floor_ms: null, ratio: null, target: `report (${round(BYTES / 1024 / (floorTput / 1000))} KiB/s)` });
  } finally {
    for (const c of cleanups.reverse()) await c();
    await core.vms.stop('term', { force: true }).catch(() => {});
    await core.close();
  }
  return rows;
}
