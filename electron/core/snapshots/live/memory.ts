// The memory of a live snapshot: QEMU's migration stream (RAM and device state) written by the
// engine into snapshots/<id>/memory.state. QEMU 7.2 has no file: transport, so the engine
// listens on a unix socket in the run folder and QEMU migrates to it. The stream goes into
// memory.state.partial, is fsynced, and only once QEMU says the migration completed is it
// renamed to memory.state (folder fsynced): a memory.state is always whole, a partial file is
// never loaded and recovery removes it.
//
// One instant for disk and RAM: the guest is paused (create.ts) while the disk switches; the
// migration starts inside that pause. With `background-snapshot` QEMU saves the device state,
// write-protects the RAM and resumes the guest itself (7.2 resumes it even when it was paused
// before, with a RESUME event), then streams the RAM as it was at that moment, copying each
// page before the guest first writes it. Without it (refused by the host: it needs userfaultfd
// write-protection; or BOXKEEP_MEMORY_PRECOPY=1, for the bench) the whole stream is written
// while the guest stays paused, and create.ts's `cont` resumes it.
import fs from 'node:fs';
import path from 'node:path';
import { childProcess, crypto } from '../../builtins.js';
import { vmError } from '../../../../shared/errors.js';
import type { SnapshotMemory } from '../../../../shared/types.js';
import { fsyncDir, removeDurable } from '../../fsutil.js';
import { MEMORY_FILE, MEMORY_PARTIAL_FILE } from '../../paths.js';
import { deviceHash, processArgs } from '../../vm/devices.js';
import { MEMORY_SOCKET } from '../../vm/qemu.js';
import { migrationDone } from '../../vm/memory-load.js';
import type { QemuSession } from '../../vm/supervisor.js';
import type { Logger } from '../../logger.js';

/** What a snapshot with memory records before the stream exists (in its intent too). */
export type MemoryFacts = Omit<SnapshotMemory, 'size' | 'sha256'>;

/** No migration setting limits the stream: the disk is the limit (QEMU's default is 128 MiB/s). */
const NO_LIMIT = 2 ** 40;

export async function memoryFacts(session: QemuSession): Promise<MemoryFacts> {
  const version = await session.qmp.execute<{ qemu: { major: number; minor: number; micro: number } }>('query-version');
  const machine = await session.qmp.execute<string>('qom-get', { path: '/machine', property: 'type' });
  return {
    qemuVersion: `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}`,
    machine,
    deviceHash: deviceHash(processArgs(session.pid)),
  };
}

/** The engine's end of the stream: a listening socket and the partial file it fills. */
export interface MemoryCapture {
  socket: string;
  partial: string;
  final: string;
  /** QEMU keeps the guest running while RAM streams (background-snapshot), or not (precopy). */
  background: boolean;
  /** Settles with the stream's size and sha256 once QEMU closed it and the file is fsynced. */
  written: Promise<{ size: number; sha256: string }>;
  /** QEMU accepted the `migrate` (startMemory): only then is there a stream of this snapshot to wait for. */
  started: boolean;
  close(): void;
  /** A sink that has not exited within a few seconds of its stream's end is killed. */
  stop(): Promise<void>;
}

/** After QEMU completed the stream: the sink's last reads, its fsync and its sum. */
const WRITER_DEADLINE_MS = 5 * 60_000;

/** Beside the partial file: the sink's size and sha256 of what it wrote, once fsynced. */
export const sumPath = (partial: string) => `${partial}.sum`;

/**
 * The sink: a detached process of its own, so the stream outlives the owner. Measured: when
 * the reader of a background snapshot dies mid-stream (the owner killed), QEMU 7.2 fails the
 * migration ("failed to save SaveStateEntry … ram: -5") and its monitor hangs for good, the
 * guest with it. A sink that is not the owner finishes the stream whatever happens to the
 * owner; recovery then finds a complete partial file and QEMU's "completed". It exits when its
 * connection ends, or when its socket is removed before QEMU connected (an undone snapshot).
 */
export const SINK = `
const [sock, partial] = process.argv.slice(1);
const fs = require('fs'), net = require('net'), crypto = require('crypto');
const fd = fs.openSync(partial, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
const hash = crypto.createHash('sha256');
let size = 0;
let failed = null;
const watch = setInterval(() => { if (!fs.existsSync(sock)) process.exit(3); }, 500);
const srv = net.createServer((c) => {
  clearInterval(watch);
  srv.close();
  c.on('data', (b) => {
    // A write that fails (the disk full) must not end the reading: QEMU 7.2 hangs for good
    // when its reader goes away mid-stream. The rest is read and dropped, and no sum written.
    if (failed) return;
    try {
      for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off, b.length - off);
      hash.update(b);
      size += b.length;
    } catch (err) {
      failed = err;
      try { fs.unlinkSync(partial); } catch {}
    }
  });
  c.on('error', () => process.exit(1));
  c.on('end', () => {
    if (failed) process.exit(2);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.writeFileSync(partial + '.sum.tmp', JSON.stringify({ size, sha256: hash.digest('hex') }));
    fs.renameSync(partial + '.sum.tmp', partial + '.sum');
    process.exit(0);
  });
});
srv.listen(sock, () => process.stdout.write('ready\\n'));
`;

/** Before the pause: the migration settings, the sink listening, an empty partial file. */
export async function openCapture(session: QemuSession, snapshotDir: string, logger: Logger): Promise<MemoryCapture> {
  const background = process.env.BOXKEEP_MEMORY_PRECOPY !== '1' && (await session.qmp.execute('migrate-set-capabilities', {
    capabilities: [{ capability: 'background-snapshot', state: true }],
  }).then(() => true, (err: Error) => {
    logger.warn('background-snapshot refused; the guest stays paused while its memory is written', { op: 'live-create', boxId: session.boxId, error: err.message });
    return false;
  }));
  if (!background) await session.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'background-snapshot', state: false }] }).catch(() => undefined);
  await session.qmp.execute('migrate-set-parameters', { 'max-bandwidth': NO_LIMIT });
  const socket = path.join(session.runDir, MEMORY_SOCKET);
  const partial = path.join(snapshotDir, MEMORY_PARTIAL_FILE);
  for (const stale of [socket, partial, sumPath(partial)]) fs.rmSync(stale, { force: true });
  const child = childProcess().spawn(process.execPath, ['-e', SINK, socket, partial], {
    detached: true, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  let alive = true;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { alive = false; resolve(code); }));
  child.once('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    void exited.then((code) => reject(vmError(`The memory writer exited before it listened (${code})`)));
  });
  child.stdout!.destroy();
  child.unref();
  const written = exited.then((code) => {
    const sum = readSum(partial);
    if (code !== 0 || !sum) throw vmError(`The memory writer did not finish the stream (exit ${code})`);
    return sum;
  });
  written.catch(() => undefined);
  // Its socket gone, a sink QEMU never reached exits by itself.
  const close = () => fs.rmSync(socket, { force: true });
  return {
    socket, partial, final: path.join(snapshotDir, MEMORY_FILE), background, written, started: false, close,
    async stop() {
      close();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (alive) child.kill('SIGKILL');
    },
  };
}

/** What the sink recorded for a finished stream, or null. Read from disk, so only a claim: see verifiedState. */
export function readSum(partial: string): { size: number; sha256: string } | null {
  try {
    const sum = JSON.parse(fs.readFileSync(sumPath(partial), 'utf8')) as { size: unknown; sha256: unknown };
    return Number.isSafeInteger(sum.size) && (sum.size as number) >= 0 && typeof sum.sha256 === 'string' && /^[0-9a-f]{64}$/.test(sum.sha256)
      ? { size: sum.size as number, sha256: sum.sha256 } : null;
  } catch {
    return null;
  }
}

/**
 * Recovery: the state in `file` (the partial file, or memory.state once renamed) when its bytes
 * are exactly what the sink hashed as they came from QEMU; null otherwise. The sum file alone
 * proves nothing: it is a file on disk, and so is the stream it describes.
 */
export function verifiedState(file: string, partial: string): { size: number; sha256: string } | null {
  const sum = readSum(partial);
  if (!sum) return null;
  const state = stateOnDisk(file);
  return state && state.size === sum.size && state.sha256 === sum.sha256 ? state : null;
}

/**
 * Inside the pause, after the disk switch: starts the migration. Returns once the RAM is
 * fixed at this instant: with background-snapshot when QEMU resumed the guest (the device
 * state is saved and every page write-protected by then), else once the stream is complete
 * (the guest still paused).
 */
export async function startMemory(session: QemuSession, capture: MemoryCapture): Promise<void> {
  const resumed = capture.background ? waitForEvent(session, 'RESUME') : null;
  await session.qmp.execute('migrate', { uri: `unix:${capture.socket}` });
  capture.started = true;
  if (resumed) await resumed;
  else await migrationDone(session);
}

/** After the guest resumed: the stream complete, fsynced, renamed into place. Null when it failed (the partial file is gone then). */
export async function finishMemory(session: QemuSession, capture: MemoryCapture, facts: MemoryFacts, logger: Logger): Promise<SnapshotMemory | null> {
  try {
    // Refused by QEMU (a migration blocker, one in progress): query-migrate would describe some
    // other migration, and the sink would wait for a connection for ever.
    if (!capture.started) throw vmError('QEMU did not start the memory migration');
    await migrationDone(session);
    let timer: NodeJS.Timeout | undefined;
    const { size, sha256 } = await Promise.race([
      capture.written,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(vmError(`The memory writer did not finish within ${WRITER_DEADLINE_MS / 1000} s of QEMU's end of the stream`)), WRITER_DEADLINE_MS); }),
    ]).finally(() => clearTimeout(timer));
    installState(capture.partial, capture.final);
    return { ...facts, size, sha256 };
  } catch (err) {
    logger.warn('memory state not saved; the snapshot keeps only the disk', { op: 'live-create', boxId: session.boxId, error: String((err as Error).message ?? err) });
    if (capture.started) await session.qmp.execute('migrate_cancel').catch(() => undefined);
    await capture.stop();
    dropPartial(capture.partial);
    return null;
  } finally {
    capture.close();
  }
}

/**
 * The complete stream takes its final name (folder fsynced). Its sum file stays until the row
 * records the state (forgetSum): a recovery in between checks memory.state against it.
 */
export function installState(partial: string, final: string): void {
  fs.renameSync(partial, final);
  fsyncDir(path.dirname(final));
}

export function forgetSum(partial: string): void {
  removeDurable(sumPath(partial));
}

export function dropPartial(partial: string): void {
  removeDurable(partial);
  removeDurable(sumPath(partial));
}

function waitForEvent(session: QemuSession, event: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(vmError(`QEMU did not resume the guest within ${timeoutMs / 1000} s of starting the memory snapshot`));
    }, timeoutMs);
    const off = session.qmp.on(event, () => {
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Recovery: a memory.state renamed into place is whole; its size and sha256 are read again. */
export function stateOnDisk(file: string): { size: number; sha256: string } | null {
  if (!fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) return null;
  const hash = crypto().createHash('sha256');
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const buf = Buffer.alloc(1 << 20);
  let size = 0;
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; size += n) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return { size, sha256: hash.digest('hex') };
}
