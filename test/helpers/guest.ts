// The tiny test guest (scripts/build-guest.mjs) and a driver for its serial console.
// The guest's /init runs `eval` on each line it reads; we send `CMD; echo DONE_<n>_$?`
// and read everything up to that marker as the command's output.
import type { ByteStream } from '../../shared/streams.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = path.join(REPO, 'scripts', 'build-guest.mjs');

export const GUEST_READY = 'BOXKEEP-GUEST-READY';
/** In the page the guest's httpd serves at / (scripts/build-guest.mjs, WWW_MARKER). */
export const GUEST_HTTPD_MARKER = 'BOXKEEP-GUEST-HTTPD';

/** The test guest's kernel command line: its command loop on the serial console. */
export const GUEST_APPEND = 'console=ttyS0 panic=-1 quiet';
/** The same with the guest agent (qemu-ga) started in the guest. */
export const AGENT_APPEND = `${GUEST_APPEND} boxkeep.agent=on`;
/** The same with a login shell on the console instead, as a person meets it (echo on, a prompt). */
export const LOGIN_APPEND = `${GUEST_APPEND} boxkeep.console=login`;
/** The login shell's prompt (PS1 in scripts/build-guest.mjs). */
export const LOGIN_PROMPT = 'root@boxkeep:~# ';

export interface Guest {
  kernel: string;
  initrd: string;
}

function runScript(args: string[]): Record<string, unknown> {
  try {
    const out = execFileSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60_000 });
    return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`scripts/build-guest.mjs ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
  }
}

/** Kernel and initramfs of the test guest; built once, then served from .cache/guest. */
export function buildGuest(): Guest {
  const out = runScript([]);
  return { kernel: String(out.kernel), initrd: String(out.initrd) };
}

/** An ext4 disk as qcow2, holding `files` (path relative to the disk root → content). */
export function makeDataDisk(file: string, sizeMiB: number, files: Record<string, string> = {}): string {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-dd-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      const target = path.join(src, name);
      if (!target.startsWith(src + path.sep)) throw new Error(`makeDataDisk: ${name} is outside the disk`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, content);
    }
    runScript(['--data-disk', path.resolve(file), '--size', `${sizeMiB}M`, '--from', src]);
    return path.resolve(file);
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
}

export interface RunResult {
  status: number;
  output: string;
}

/** Where a SerialDriver reads and writes: QEMU's serial socket, or a console stream. */
interface SerialLink {
  onText(listener: (text: string) => void): void;
  onClose(listener: () => void): void;
  write(text: string): void;
  destroy(): void;
}

/** Drives the guest's command loop over QEMU's serial unix socket (or a console stream). */
export class SerialDriver {
  /** Everything received and not yet consumed by waitFor/run, with \r\n turned into \n. */
  private buffer = '';
  private waiters = new Set<() => void>();
  private closed = false;
  private seq = 0;

  private constructor(private readonly link: SerialLink) {
    link.onText((chunk) => {
      this.buffer = (this.buffer + chunk).replace(/\r\n/g, '\n');
      this.wake();
    });
    link.onClose(() => {
      this.closed = true;
      this.wake();
    });
  }

  /** The same driver over a console stream (consoles:open), for when the supervisor holds the socket. */
  static over(stream: ByteStream): SerialDriver {
    const decoder = new TextDecoder();
    return new SerialDriver({
      onText: (listener) => void stream.onData((bytes) => listener(decoder.decode(bytes, { stream: true }))),
      onClose: (listener) => void stream.onClose(() => listener()),
      write: (text) => void stream.write(new TextEncoder().encode(text)),
      destroy: () => stream.close(),
    });
  }

  private static overSocket(socket: net.Socket): SerialDriver {
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    return new SerialDriver({
      onText: (listener) => void socket.on('data', listener),
      onClose: (listener) => void socket.on('close', listener),
      write: (text) => void socket.write(text),
      destroy: () => socket.destroy(),
    });
  }

  /** Connects, retrying until the socket exists (QEMU creates it shortly after spawn). */
  static async connect(socketPath: string, timeoutMs = 10_000): Promise<SerialDriver> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection(socketPath);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        return SerialDriver.overSocket(socket);
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`serial socket ${socketPath} did not accept within ${timeoutMs} ms: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /**
   * Waits for the guest's ready line and returns it (`BOXKEEP-GUEST-READY disk=mounted`).
   * QEMU drops serial output while no client is connected, so the serial log is checked as
   * well, after connecting: what came before we connected is there, the rest arrives on the
   * socket. The log is appended across boots, so only bytes past `log.fromOffset` (its size
   * before this spawn) count.
   */
  async ready(timeoutMs = 60_000, log?: { file: string; fromOffset: number }): Promise<string> {
    if (log && fs.existsSync(log.file)) {
      const fd = fs.openSync(log.file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const buf = Buffer.alloc(Math.max(0, size - log.fromOffset));
        fs.readSync(fd, buf, 0, buf.length, log.fromOffset);
        const line = /BOXKEEP-GUEST-READY[^\r\n]*\r?\n/.exec(buf.toString('utf8'));
        if (line) {
          this.buffer = '';
          return line[0].trim();
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    return (await this.waitFor(/BOXKEEP-GUEST-READY[^\n]*\n/, timeoutMs)).trim();
  }

  /** Resolves with the matched text once it arrives; consumes the buffer up to its end. */
  async waitFor(pattern: string | RegExp, timeoutMs = 10_000): Promise<string> {
    return (await this.consumeUntil(pattern, timeoutMs)).match;
  }

  /** Runs one shell line in the guest and returns its exit status and output. */
  async run(cmd: string, timeoutMs = 10_000): Promise<RunResult> {
    if (cmd.includes('\n')) throw new Error('SerialDriver.run takes one line; join commands with ;');
    const n = ++this.seq;
    this.buffer = '';
    this.send(`${cmd}; echo "DONE_${n}_$?"`);
    let result: { before: string; match: string };
    try {
      result = await this.consumeUntil(new RegExp(`DONE_${n}_(\\d+)\n|BOXKEEP-SYNTAX-ERROR\n`), timeoutMs);
    } catch (err) {
      throw new Error(`${cmd}: ${(err as Error).message}`);
    }
    if (result.match.startsWith('BOXKEEP-SYNTAX-ERROR')) throw new Error(`the guest shell rejected the syntax of: ${cmd}`);
    const status = Number(/DONE_\d+_(\d+)/.exec(result.match)?.[1]);
    // A command whose output lacks a final newline leaves the marker on the same line.
    return { status, output: result.before.replace(/\n$/, '') };
  }

  private consumeUntil(pattern: string | RegExp, timeoutMs: number): Promise<{ before: string; match: string }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let index = -1;
        let match = '';
        if (typeof pattern === 'string') {
          index = this.buffer.indexOf(pattern);
          match = pattern;
        } else {
          const m = pattern.exec(this.buffer);
          if (m) {
            index = m.index;
            match = m[0];
          }
        }
        if (index >= 0) {
          finish();
          const before = this.buffer.slice(0, index);
          this.buffer = this.buffer.slice(index + match.length);
          resolve({ before, match });
        } else if (this.closed) {
          finish();
          reject(new Error(`serial console closed while waiting for ${String(pattern)}; last output: ${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${String(pattern)} did not appear on the serial console within ${timeoutMs} ms; last output: ${this.tail()}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a line without waiting for anything (for commands that never return, e.g. poweroff). */
  send(line: string): void {
    this.link.write(line + '\n');
  }

  close(): void {
    this.link.destroy();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private tail(): string {
    return JSON.stringify(this.buffer.slice(-300));
  }
}

/**
 * Through the real CLI (`ok` runs one command and returns its JSON): the tiny guest imported as
 * the image "tiny" (its kernel and initrd boot it) and a box `name` of 128 MiB made from it.
 */
export function createTinyGuestBox<B>(ok: <T>(...args: string[]) => T, dir: string, name: string, extra: string[] = []): B {
  const g = buildGuest();
  const disk = makeDataDisk(path.join(dir, 'd.qcow2'), 32);
  ok('image', 'import', disk, '--name', 'tiny', '--kernel', g.kernel, '--initrd', g.initrd, '--append', 'console=ttyS0 panic=-1 quiet');
  return ok<B>('box', 'create', name, '--image', 'tiny', '--memory', '128', ...extra);
}

/**
 * Starts a box through `start` (the CLI, say) and drives its serial console once the guest is
 * ready: the ready line (`… disk=mounted net=eth0:10.0.2.15`) and the driver. Only while no
 * other client holds the console socket (the CLI lets go of it when the command ends).
 */
export async function startAndAttach(start: () => void, serialSocket: string, logFile: string): Promise<{ ready: string; serial: SerialDriver }> {
  const fromOffset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  start();
  const serial = await SerialDriver.connect(serialSocket);
  try {
    return { ready: await serial.ready(90_000, { file: logFile, fromOffset }), serial };
  } catch (err) {
    serial.close();
    throw err;
  }
}

/** Polls the serial log through the real CLI (`ok`) until the box's guest printed its ready line; returns the last lines. */
export async function waitForReadyLine(ok: <T>(...args: string[]) => T, box: string, tries = 200): Promise<string[]> {
  let lines: string[] = [];
  for (let i = 0; i < tries && !lines.some((l) => l.includes(GUEST_READY)); i++) {
    lines = ok<{ lines: string[] }>('box', 'console', box, '--lines', '20').lines;
    await new Promise((r) => setTimeout(r, 300));
  }
  return lines;
}

/**
 * A file of the guest's ext4 (the whole disk) as a layer and its backing chain hold it, as the
 * guest would see it at its next mount (the copy's journal replayed first, as a mount does),
 * without booting it; '' when there is no such file. The raw copy goes to `scratch` and is removed.
 */
export function guestFileOf(layer: string, name: string, scratch: string): string {
  const raw = path.join(scratch, 'guest-file.raw');
  try {
    execFileSync('qemu-img', ['convert', '-U', '-O', 'raw', layer, raw]);
    spawnSync('e2fsck', ['-E', 'journal_only', '-y', raw], { encoding: 'utf8' });
    return execFileSync('debugfs', ['-R', `cat /${name}`, raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } finally {
    fs.rmSync(raw, { force: true });
  }
}
