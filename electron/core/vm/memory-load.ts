// A restore with memory: a fresh QEMU started with `-incoming defer` (and -S) is fed a
// snapshot's memory.state through a unix socket it listens on. The engine reads the file
// itself and hashes every byte it sends; the guest runs (`cont`, by the caller) only when QEMU
// completed the load and the bytes were exactly the ones recorded at the snapshot.
import fs from 'node:fs';
import path from 'node:path';
import { crypto, net } from '../builtins.js';
import { invalidState, storageError, vmError } from '../../../shared/errors.js';
import type { SnapshotMemory } from '../../../shared/types.js';
import { crashPoint } from '../crash.js';
import { deviceHash } from './devices.js';
import { INCOMING_SOCKET } from './qemu.js';
import type { QmpClient } from './qmp.js';
import { shellWord } from '../../../shared/names.js';

/** What a restore with memory needs: the state file and what was recorded with it. */
export interface IncomingMemory {
  file: string;
  facts: SnapshotMemory;
  /** For messages: the snapshot's name. */
  snapshotName: string;
}

/** Why this QEMU could not load the snapshot's memory, or null when it can. */
export function memoryMismatch(facts: SnapshotMemory, now: { qemuVersion: string | null; args: readonly string[] }): string | null {
  if (now.qemuVersion !== facts.qemuVersion) return `it was taken with QEMU ${facts.qemuVersion}, and QEMU ${now.qemuVersion ?? '(not installed)'} is installed now`;
  if (deviceHash(now.args) !== facts.deviceHash) return `the box's devices changed since it was taken (its memory size, CPU count, network card, screen, firmware or media)`;
  return null;
}

export function refusal(box: string, snapshot: string, why: string): Error {
  return invalidState(`The snapshot ${JSON.stringify(snapshot)} of ${JSON.stringify(box)} cannot be restored with its memory: ${why}. Restore only its disk instead ("Restore only the disk" in the app, or boxkeep snapshot restore ${shellWord(box)} ${shellWord(snapshot)} --disk-only): the box then boots from the disk as it was at that moment.`);
}

const MIGRATION_TIMEOUT_MS = 10 * 60_000;
/** How long QEMU may take no more of the state (its socket full, not closed) before the load is given up. */
export const MEMORY_STALL_MS = 60_000;

/** Polls QEMU's migration status until completed; throws when it failed or was cancelled. */
export async function migrationDone(session: { qmp: QmpClient }, timeoutMs = MIGRATION_TIMEOUT_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const info = await session.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') throw vmError(`QEMU's migration ${info.status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
    if (Date.now() > end) throw vmError(`QEMU's migration did not complete within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Loads the state into a QEMU waiting with -incoming defer; returns once QEMU completed it and the checksum matched. */
export async function loadMemory(qmp: QmpClient, runDir: string, memory: IncomingMemory, boxName: string, stallMs = MEMORY_STALL_MS): Promise<void> {
  const machine = await qmp.execute<string>('qom-get', { path: '/machine', property: 'type' });
  if (machine !== memory.facts.machine) throw refusal(boxName, memory.snapshotName, `it was taken on the machine type ${memory.facts.machine}, and QEMU now runs ${machine}`);
  const socket = path.join(runDir, INCOMING_SOCKET);
  fs.rmSync(socket, { force: true });
  await qmp.execute('migrate-incoming', { uri: `unix:${socket}` });
  // The whole file is hashed even when QEMU stops reading early: a changed byte QEMU rejects
  // (a section header) must say what a changed byte QEMU loads says, not "QEMU failed".
  const read = await feed(socket, memory.file, stallMs);
  const changed = read.size !== memory.facts.size || read.sha256 !== memory.facts.sha256;
  try {
    await migrationDone({ qmp });
  } catch (err) {
    if (changed) throw changedError(memory, read, err);
    throw err;
  }
  // Loaded (QEMU is paused now) but not yet compared with what was saved: a kill here must not
  // leave a guest anyone may resume (supervisor.ts: adoptOne, the start's mark).
  crashPoint('box-start:after-load');
  if (changed) throw changedError(memory, read);
}

function changedError(memory: IncomingMemory, read: { size: number; sha256: string }, cause?: unknown): Error {
  return storageError(`The memory state of the snapshot ${JSON.stringify(memory.snapshotName)} (${memory.file}) is not what was saved (${read.size} bytes, sha256 ${read.sha256.slice(0, 12)}…; recorded ${memory.facts.size} bytes, ${memory.facts.sha256.slice(0, 12)}…); the box was not started. Restore only its disk (--disk-only).`, cause);
}

/**
 * Streams the file into QEMU's socket, hashing every byte of the file; the regular file only,
 * no link followed. When QEMU closes the socket early (it rejected the stream) the rest is
 * still read and hashed, not sent: the caller learns from QEMU whether the load failed.
 * A QEMU that stops taking bytes without closing (stuck, or stopped by a signal) is given up
 * after `stallMs` with no progress, and the event loop gets a turn between pieces (the app's
 * other boxes and windows are served while a large state is read).
 */
async function feed(socket: string, file: string, stallMs: number): Promise<{ size: number; sha256: string }> {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw storageError(`The memory state ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); restore only the disk (--disk-only).`, err);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw storageError(`The memory state ${file} is not a regular file; restore only the disk (--disk-only).`);
    const conn = await connect(socket);
    let open = true;
    const closed = () => { open = false; };
    conn.on('error', closed);
    conn.on('close', closed);
    const hash = crypto().createHash('sha256');
    const buf = Buffer.alloc(4 << 20);
    let size = 0;
    try {
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; size += n) {
        const piece = Buffer.from(buf.subarray(0, n));
        hash.update(piece);
        if (open && !conn.write(piece)) await drained(conn, stallMs);
        else await new Promise((r) => setImmediate(r));
      }
      if (open) await ended(conn, stallMs);
    } finally {
      conn.destroy();
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    fs.closeSync(fd);
  }
}

/** Resolves when the socket takes more, or when it is gone (nothing more is sent then); throws after `stallMs` of neither. */
function drained(conn: import('node:net').Socket, stallMs: number): Promise<void> {
  return within(conn, stallMs, (done) => {
    conn.once('drain', done);
    conn.once('close', done);
    return () => {
      conn.off('drain', done);
      conn.off('close', done);
    };
  });
}

/** Resolves once everything written left for QEMU (or the socket closed); throws after `stallMs`. */
function ended(conn: import('node:net').Socket, stallMs: number): Promise<void> {
  return within(conn, stallMs, (done) => {
    conn.once('finish', done);
    conn.once('close', done);
    conn.end();
    return () => {
      conn.off('finish', done);
      conn.off('close', done);
    };
  });
}

const stalls = new WeakSet<Error>();

/** The load given up because QEMU took no more of the state: the box itself is as it was (its start leaves it stopped, not failed). */
export function isStall(err: unknown): boolean {
  return err instanceof Error && stalls.has(err);
}

function within(conn: import('node:net').Socket, stallMs: number, arm: (done: () => void) => () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      disarm();
      conn.destroy();
      const err = vmError(`The memory state was not loaded: QEMU took none of it for ${Math.round(stallMs / 1000)} s (it was stuck or stopped), and was stopped.`);
      stalls.add(err);
      reject(err);
    }, stallMs);
    const disarm = arm(() => {
      clearTimeout(timer);
      disarm();
      resolve();
    });
  });
}

async function connect(socket: string): Promise<import('node:net').Socket> {
  const end = Date.now() + 5000;
  for (;;) {
    try {
      return await new Promise((resolve, reject) => {
        const c = net().createConnection(socket, () => resolve(c));
        c.once('error', reject);
      });
    } catch (err) {
      if (Date.now() > end) throw vmError(`QEMU did not listen for the memory state at ${socket}: ${(err as Error).message}`, err);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
