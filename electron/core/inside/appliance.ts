// One libguestfs appliance (a small VM of its own) holding a few disks, driven through one
// guestfish process over its stdin. Guest filesystems are untrusted input: they are only ever
// parsed by the appliance's kernel, never mounted on the host. guestfish is our child with a
// pipe for stdin, so if Boxkeep dies the pipe closes and guestfish (and its VM) exit with it:
// nothing is left holding a disk. stderr is joined to stdout (`exec … 2>&1`) so an error line
// arrives in order with the output; each command is followed by an `echo` of a marker made of
// random bytes, which a guest's file names or link targets cannot forge. A guestfish that
// answers nothing for too long (a hung appliance, a stuck host file) is killed with everything
// it started (its own process group), and the command fails with a Storage error saying so.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { BoxkeepError } from '../../../shared/errors.js';
import { childProcess, crypto } from '../builtins.js';
import { guestNameBytes } from './guest-names.js';

export interface ApplianceDisk {
  path: string;
  readonly: boolean;
}

export interface ApplianceOptions {
  /** The boxes' accelerator verdict: anything but kvm makes libguestfs use TCG. */
  accel: 'kvm' | 'tcg' | 'unknown';
  binary?: string;
  /** How long one command (the launch included) may go without an answer. */
  timeoutMs?: number;
}

/** Generous: a launch under TCG on a loaded machine takes a minute, a big file's download longer. */
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/** What one command answered: its output, or libguestfs's error for it. */
export type Answer = { ok: true; out: string } | { ok: false; error: string };

export const GUESTFISH = 'guestfish';

/** A string as one guestfish argument: double quotes, every byte but letters and digits as \xHH (a guest name's raw bytes as they were). */
export function quote(text: string): string {
  let out = '"';
  for (const byte of guestNameBytes(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_./+-]/.test(c) ? c : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}

interface Waiting {
  marker: string;
  count: number;
  resolve: (text: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** What the batch makes on the host (a download's bytes so far): its growth counts as an answer. */
  progress?: () => number;
  seen: number;
}

export interface CommandOptions {
  /** A measure of work the command does without printing (a download's size so far). */
  progress?: () => number;
}

export class Appliance {
  private buffered = '';
  private waiting: Waiting | null = null;
  private exited: string | null = null;
  private line = 0;
  /** A private folder for files the appliance writes on the host (find0, download). */
  readonly scratch: string;
  /** The disks it holds, in the order added (/dev/sda first). */
  disks: readonly ApplianceDisk[] = [];
  /** Mountpoints made inside the appliance (reset() takes them away again). */
  private readonly mountpoints = new Set<string>();

  /** Resolves with guestfish's exit code (null when a signal ended it). */
  private readonly exitCode: Promise<number | null>;

  private constructor(private readonly child: ChildProcess, private readonly timeoutMs: number) {
    this.exitCode = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-inside-'));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buffered += chunk;
      this.progressed();
      this.deliver();
    });
    child.on('exit', (code, signal) => {
      this.exited = `guestfish exited (${signal ?? code})`;
      this.deliver();
    });
    // A guestfish that died (or never started) makes writes fail with EPIPE: that is its exit, not a crash of ours.
    child.stdin!.on('error', (err) => {
      this.exited ??= `guestfish's input closed (${err.message})`;
      this.deliver();
    });
    child.on('error', (err) => {
      this.exited = err.message;
      this.deliver();
    });
  }

  /**
   * Starts guestfish without a VM yet: local commands only until `run`. In a process group of
   * its own (it still exits when our end of its stdin closes), so a timeout kills its QEMU too.
   */
  static start(opts: ApplianceOptions): Appliance {
    const env: NodeJS.ProcessEnv = { ...process.env, LIBGUESTFS_BACKEND: 'direct', LC_ALL: 'C' };
    if (opts.accel !== 'kvm') env.LIBGUESTFS_BACKEND_SETTINGS = 'force_tcg';
    const binary = opts.binary ?? GUESTFISH;
    const child = childProcess().spawn('/bin/sh', ['-c', 'exec "$0" "$@" 2>&1', binary], { env, stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    return new Appliance(child, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  /** Starts guestfish with the disks (qcow2, format stated, never probed) and boots the appliance. */
  static async launch(disks: ApplianceDisk[], opts: ApplianceOptions): Promise<Appliance> {
    const appliance = Appliance.start(opts);
    appliance.disks = disks;
    const add = disks.map((d) => `add-drive ${quote(d.path)} format:qcow2 readonly:${d.readonly ? 'true' : 'false'}`);
    try {
      for (const command of add) await appliance.must(command);
      await appliance.must('run');
    } catch (err) {
      await appliance.close();
      // 127: the shell found no guestfish to exec (its input may close before its exit is seen).
      const code = await Promise.race([appliance.exitCode, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      if (code === 127) {
        throw new BoxkeepError('Internal', `Looking inside a disk needs libguestfs's guestfish, which was not found; install it with: sudo apt-get install libguestfs-tools`);
      }
      throw err;
    }
    return appliance;
  }

  /** True until guestfish exited (or was killed): only then may it be used again. */
  get alive(): boolean {
    return this.exited === null;
  }

  /** True when the VM's daemon answers (its QEMU may have died with guestfish still running). */
  async answers(): Promise<boolean> {
    if (!this.alive) return false;
    return this.run('ping-daemon').then((a) => a.ok, () => false);
  }

  /** The guestfish process (tests look at what it and its children hold). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Makes a mountpoint inside the appliance (its root holds nothing of a guest's). */
  async mountpoint(at: string): Promise<void> {
    await this.must(`mkmountpoint ${at}`);
    this.mountpoints.add(at);
  }

  /** Unmounts everything and removes the mountpoints, so the next user finds it as launched. */
  async reset(): Promise<void> {
    if (this.mountpoints.size === 0) return;
    await this.must('umount-all');
    for (const at of this.mountpoints) await this.must(`rmmountpoint ${at}`);
    this.mountpoints.clear();
  }

  /** Runs one command line (already quoted); never throws for libguestfs's own errors. */
  async run(command: string, opts: CommandOptions = {}): Promise<Answer> {
    const [answer] = await this.batch([command], opts);
    return answer!;
  }

  /** Runs one command, throwing a Storage error with libguestfs's words when it fails. */
  async must(command: string, opts: CommandOptions = {}): Promise<string> {
    const answer = await this.run(command, opts);
    if (!answer.ok) throw new BoxkeepError('Storage', `The disk could not be read: ${answer.error}`);
    return answer.out;
  }

  /** Runs several commands in one go (written at once, answered in order). */
  async batch(commands: string[], opts: CommandOptions = {}): Promise<Answer[]> {
    if (this.exited) throw new BoxkeepError('Storage', `The disk appliance is gone: ${this.exited}.`);
    const marker = `@@bk-${crypto().randomBytes(12).toString('hex')}@@`;
    const lines = commands.map((c) => `-${c}\necho ${marker}\n`).join('');
    const first = this.line + 1;
    this.line += commands.length * 2;
    const text = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => this.hung(commands), this.timeoutMs);
      this.waiting = { marker: `${marker}\n`, count: commands.length, resolve, reject, timer, ...(opts.progress && { progress: opts.progress }), seen: opts.progress?.() ?? 0 };
      this.child.stdin!.write(lines);
      this.deliver();
    });
    const parts = text.split(`${marker}\n`);
    parts.pop();
    if (parts.length < commands.length) throw new BoxkeepError('Storage', `The disk appliance stopped answering: ${this.exited ?? 'no reason given'}.`);
    return parts.map((part, i) => answerOf(part, first + i * 2));
  }

  /** Hands the waiting batch its text once every one of its markers came (or guestfish exited). */
  private deliver(): void {
    const w = this.waiting;
    if (!w) return;
    let end = 0;
    for (let n = 0; n < w.count; n++) {
      const at = this.buffered.indexOf(w.marker, end);
      if (at < 0) {
        if (!this.exited) return;
        end = this.buffered.length;
        break;
      }
      end = at + w.marker.length;
    }
    const text = this.buffered.slice(0, end);
    this.buffered = this.buffered.slice(end);
    this.waiting = null;
    clearTimeout(w.timer);
    w.resolve(text);
  }

  /** Output arrived: the waiting batch gets its full time again (a long batch is not hung while it answers). */
  private progressed(): void {
    this.waiting?.timer.refresh();
  }

  /** No answer in time: guestfish, its QEMU and anything they started are killed, and the command fails. */
  private hung(commands: string[]): void {
    const w = this.waiting;
    if (!w) return;
    // A big file's download prints nothing until it ends, however long: still working while it grows.
    const done = w.progress?.();
    if (done !== undefined && done !== w.seen) {
      w.seen = done;
      w.timer.refresh();
      return;
    }
    this.waiting = null;
    const what = commands[0]!.split(' ')[0];
    this.exited = `it did not answer within ${Math.round(this.timeoutMs / 1000)} s and was stopped`;
    this.killGroup();
    w.reject(new BoxkeepError('Storage', `The disk appliance did not answer within ${Math.round(this.timeoutMs / 1000)} s (at "${what}"${commands.length > 1 ? ` and ${commands.length - 1} more commands` : ''}), so it was stopped. Try again; if it keeps happening, the disk or libguestfs may be at fault.`));
  }

  private killGroup(): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  /**
   * Ends guestfish (it shuts its VM down) and waits until it has exited: until then its QEMU
   * still holds the disks' locks, and the next user of the box (a start, another appliance)
   * would be refused the live disk. The scratch folder goes too.
   */
  async close(): Promise<void> {
    const running = this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
    if (running) {
      if (this.child.stdin!.writable) this.child.stdin!.end('exit\n');
      const timer = setTimeout(() => this.killGroup(), 60_000);
      await this.exitCode;
      clearTimeout(timer);
    }
    fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}

/** An error line of guestfish for that input line (`*stdin*:N: libguestfs: error: …`), or the output. */
function answerOf(part: string, line: number): Answer {
  const prefix = `*stdin*:${line}: `;
  const at = part.indexOf(prefix);
  if (at === 0 || (at > 0 && part[at - 1] === '\n')) {
    return { ok: false, error: part.slice(at + prefix.length).replace(/^libguestfs: error: /, '').trim() };
  }
  return { ok: true, out: part };
}
