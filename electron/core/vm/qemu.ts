// Launching and finding QEMU. QEMU runs detached so a box outlives the app (or CLI) that
// started it; a fingerprint file lets a later process tell whether the QEMU it recorded is
// still the same process, across pid reuse and host reboots.
import { childProcess } from '../builtins.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BoxkeepError, vmError, invalidArgument } from '../../../shared/errors.js';
import type { PortForward } from '../../../shared/types.js';
import type { HomePaths } from '../paths.js';
import { writeFileDurable, mkdirDurable } from '../fsutil.js';
import { tailLines, trimLog } from './console.js';
import { bootId as readBootId, isSameProcess, processStartTime, type ProcessFingerprint } from '../proc.js';
import { BOOT_DEVICE_ID, generationNodes } from './nodes.js';

export type Accel = 'kvm' | 'tcg';

export interface QemuSpec {
  name: string;
  cpus: number;
  memoryMib: number;
  accel: Accel;
  /** Direct kernel boot; without it the guest boots from the disk through the firmware. */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Absolute path of the box's live qcow2 (the top of its backing chain). */
  liveDisk: string;
  /** Holds the sockets, the pidfile and qemu.json; see runDirFor() for its length limit. */
  runDir: string;
  /** Serial console log (everything the guest prints, appended across boots). */
  logFile: string;
  /** QEMU's own stdout/stderr; defaults to qemu.log next to logFile. */
  stderrLog?: string;
  /** Defaults to qemu-system-x86_64 on PATH. */
  binary?: string;
  /**
   * The whole chain as explicit -blockdev arguments (see nodes.ts), top format node `q0`.
   * Without it only the live disk gets named nodes and QEMU opens its backing files itself.
   */
  blockdevs?: string[];
  /** Installer media: an ISO on a read-only CD-ROM (`INSTALLER_DEVICE_ID`), booted before the disk. */
  installer?: string;
  /** `-S`: the guest's CPUs wait for a QMP `cont`, so the caller can check what QEMU opened first. */
  startPaused?: boolean;
  /** User-mode network on a virtio-net card; null or absent: no network card at all. */
  network?: { mac: string; forwards: PortForward[] } | null;
  /** A cloud-init seed ISO on a second read-only CD-ROM (`SEED_DEVICE_ID`), never booted from. */
  seed?: string;
  /** A screen: a VGA card, a USB tablet and QEMU's VNC server on `vnc.sock` in the run folder. Absent: no screen. */
  display?: 'vnc';
  /** UEFI: OVMF's code (read-only) and the box's variables; absent: QEMU's own BIOS (SeaBIOS). */
  firmware?: { code: string; vars: string };
  /** `-incoming defer`: the guest's state comes by migrate-incoming (a restore with memory). */
  incoming?: boolean;
  /**
   * Open files QEMU inherits as its fds 3, 4, …, in order (`inheritedPath` names one): the
   * start hands it the kernel and initrd it checked and holds, so what QEMU reads is that
   * inode whatever lies at the path meanwhile (supervisor.ts, launch).
   */
  inherit?: number[];
}

/** The path by which QEMU opens the `index`th of `QemuSpec.inherit` (Linux: /proc's fd links reopen the very inode). */
export function inheritedPath(index: number): string {
  return `/proc/self/fd/${3 + index}`;
}

export const NET_DEVICE_ID = 'net0';


export const DEFAULT_APPEND = 'console=ttyS0 panic=-1 quiet';
export const QEMU_BINARY = 'qemu-system-x86_64';
export const QMP_SOCKET = 'qmp.sock';
export const SERIAL_SOCKET = 'serial.sock';
export const VNC_SOCKET = 'vnc.sock';
/** The guest agent's virtio-serial port (vm/agent.ts) and its chardev's id. */
export const QGA_SOCKET = 'qga.sock';
export const QGA_CHARDEV = 'qga0';
/** A snapshot with memory: the engine listens here, QEMU migrates to it (snapshots/live/memory.ts). */
export const MEMORY_SOCKET = 'memory.sock';
/** A restore with memory: QEMU listens here, the engine feeds it the state file (vm/memory-load.ts). */
export const INCOMING_SOCKET = 'memin.sock';
/** Every socket QEMU makes in the run folder; runDirFor() fits the longest of them in sun_path. */
export const RUN_SOCKETS = [QMP_SOCKET, SERIAL_SOCKET, VNC_SOCKET, QGA_SOCKET, MEMORY_SOCKET, INCOMING_SOCKET];
export const PID_FILE = 'qemu.pid';
export const FINGERPRINT_FILE = 'qemu.json';

/** sun_path is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH = 107;

export function qmpSocketPath(runDir: string) { return path.join(runDir, QMP_SOCKET); }
export function serialSocketPath(runDir: string) { return path.join(runDir, SERIAL_SOCKET); }
export function vncSocketPath(runDir: string) { return path.join(runDir, VNC_SOCKET); }
export function qgaSocketPath(runDir: string) { return path.join(runDir, QGA_SOCKET); }

/** The QEMU command line for a spec. Pure: no file system access. */
export function buildQemuArgs(spec: QemuSpec): string[] {
  if (!path.isAbsolute(spec.liveDisk)) throw invalidArgument(`The live disk path must be absolute, got ${spec.liveDisk}`);
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1) throw invalidArgument(`cpus must be a positive integer, got ${spec.cpus}`);
  if (!Number.isInteger(spec.memoryMib) || spec.memoryMib < 16) throw invalidArgument(`memoryMib must be an integer of at least 16, got ${spec.memoryMib}`);
  if (spec.initrd && !spec.kernel) throw invalidArgument('An initrd needs a kernel to go with it');
  for (const socket of RUN_SOCKETS.map((name) => path.join(spec.runDir, name))) {
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
      throw invalidArgument(`The socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes; use runDirFor() to pick the run folder`);
    }
  }
  const boot = generationNodes(0);
  const args = [
    '-name', `guest=${opt(spec.name)}`,
    '-nodefaults', '-display', 'none', '-no-reboot',
    // tb-size=32 trims the TCG code buffer (~16 MiB less RSS at -m 128) at no measured cost.
    '-accel', spec.accel === 'kvm' ? 'kvm' : 'tcg,tb-size=32',
    ...(spec.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-smp', String(spec.cpus),
    '-m', String(spec.memoryMib),
  ];
  if (spec.kernel) {
    args.push('-kernel', spec.kernel);
    if (spec.initrd) args.push('-initrd', spec.initrd);
    args.push('-append', spec.append ?? DEFAULT_APPEND);
  }
  args.push(
    '-chardev', `socket,id=ser0,path=${opt(serialSocketPath(spec.runDir))},server=on,wait=off,logfile=${opt(spec.logFile)},logappend=on`,
    '-serial', 'chardev:ser0',
    '-qmp', `unix:${opt(qmpSocketPath(spec.runDir))},server=on,wait=off`,
    // Separate file and format nodes with explicit names: live snapshots must be able to
    // name both (see QEMU-NOTES: an inline file child gets reopened by path, by mistake).
    ...(spec.blockdevs ?? [
      '-blockdev', JSON.stringify({ driver: 'file', filename: spec.liveDisk, 'node-name': boot.file }),
      '-blockdev', JSON.stringify({ driver: 'qcow2', file: boot.file, 'node-name': boot.format }),
    ]),
    '-device', `virtio-blk-pci,drive=${boot.format},id=${BOOT_DEVICE_ID}${spec.kernel ? '' : `,bootindex=${spec.installer ? 1 : 0}`}`,
    ...(spec.installer ? installerArgs(spec.installer) : []),
    ...(spec.seed ? seedArgs(spec.seed) : []),
    ...networkArgs(spec.network ?? null),
    ...displayArgs(spec),
    ...(spec.firmware ? firmwareArgs(spec.firmware) : []),
    ...guestAgentArgs(spec.runDir),
    '-pidfile', path.join(spec.runDir, PID_FILE),
  );
  if (spec.startPaused) args.push('-S');
  if (spec.incoming) args.push('-incoming', 'defer');
  return args;
}

/** The CD-ROM's device and its nodes (no `q`/`f` names: those are the disk chain's, see nodes.ts). */
export const INSTALLER_DEVICE_ID = 'cd0';
export const INSTALLER_NODES = { format: 'installer', file: 'installer-file' };

/** Installer media as a read-only CD-ROM, first in the boot order. */
function installerArgs(iso: string): string[] {
  return readOnlyCdrom('installer', iso, INSTALLER_NODES, `id=${INSTALLER_DEVICE_ID},bootindex=0`);
}

/** The seed's CD-ROM and its nodes: names neither the disk chain (`q`/`f`…) nor the installer use. */
export const SEED_DEVICE_ID = 'cd-seed';
export const SEED_NODES = { format: 'seed', file: 'seed-file' };

/**
 * The cloud-init seed as a second read-only CD-ROM with no bootindex (the firmware never boots
 * it). QEMU puts it on the next free IDE unit, so it sits beside an installer's CD-ROM (the
 * PIIX controller has four).
 */
function seedArgs(iso: string): string[] {
  return readOnlyCdrom('seed', iso, SEED_NODES, `id=${SEED_DEVICE_ID}`);
}

/**
 * An ISO as a read-only CD-ROM on the built-in IDE controller. Its format is stated (raw),
 * never probed: an ISO is untrusted bytes, and a probe could read a qcow2 header in it naming
 * a host file.
 */
function readOnlyCdrom(what: string, iso: string, nodes: { format: string; file: string }, device: string): string[] {
  if (!path.isAbsolute(iso)) throw invalidArgument(`The ${what} path must be absolute, got ${iso}`);
  return [
    '-blockdev', JSON.stringify({ driver: 'file', filename: iso, 'node-name': nodes.file, 'read-only': true }),
    '-blockdev', JSON.stringify({ driver: 'raw', file: nodes.file, 'node-name': nodes.format, 'read-only': true }),
    '-device', `ide-cd,drive=${nodes.format},${device}`,
  ];
}

/**
 * The screen. `-display none` stays: it is about a window on the host, and VNC is a server
 * beside it. Only a unix socket: QEMU's VNC has no authentication here, so a TCP port would
 * give the guest's keyboard to every local user. share=ignore: every client shares the screen
 * whatever its ClientInit asks; under the default (allow-exclusive) a viewer asking for the
 * screen alone would disconnect all the others, and force-shared refuses such a viewer.
 */
function displayArgs(spec: QemuSpec): string[] {
  if (spec.display !== 'vnc') return [];
  return [
    '-device', 'VGA,id=video0',
    // An absolute pointer: the guest's cursor follows the viewer's without any grab or drift.
    '-device', 'qemu-xhci,id=usb0',
    '-device', 'usb-tablet,bus=usb0.0,id=tablet0',
    '-vnc', `unix:${opt(vncSocketPath(spec.runDir))},share=ignore`,
  ];
}

/**
 * The guest agent's channel, on every box: a virtio-serial port with the name qemu-ga looks
 * for, on a unix socket in the run folder (never TCP: the agent runs commands as root in the
 * guest). A guest without the agent just never opens the port.
 */
function guestAgentArgs(runDir: string): string[] {
  return [
    '-device', 'virtio-serial-pci,id=vserial0',
    '-chardev', `socket,id=${QGA_CHARDEV},path=${opt(qgaSocketPath(runDir))},server=on,wait=off`,
    '-device', `virtserialport,bus=vserial0.0,chardev=${QGA_CHARDEV},name=org.qemu.guest_agent.0`,
  ];
}

export const FIRMWARE_NODES = { code: 'ovmf-code', codeFile: 'ovmf-code-file', vars: 'ovmf-vars', varsFile: 'ovmf-vars-file' };

/**
 * OVMF as the machine's two flash chips: the code read-only, the variables writable. Both
 * raw, stated, never probed (the variables are bytes a guest wrote).
 */
function firmwareArgs(fw: { code: string; vars: string }): string[] {
  for (const file of [fw.code, fw.vars]) {
    if (!path.isAbsolute(file)) throw invalidArgument(`The firmware path must be absolute, got ${file}`);
  }
  const n = FIRMWARE_NODES;
  return [
    '-blockdev', JSON.stringify({ driver: 'file', filename: fw.code, 'node-name': n.codeFile, 'read-only': true }),
    '-blockdev', JSON.stringify({ driver: 'raw', file: n.codeFile, 'node-name': n.code, 'read-only': true }),
    '-blockdev', JSON.stringify({ driver: 'file', filename: fw.vars, 'node-name': n.varsFile }),
    '-blockdev', JSON.stringify({ driver: 'raw', file: n.varsFile, 'node-name': n.vars }),
    '-machine', `pflash0=${n.code},pflash1=${n.vars}`,
  ];
}

/**
 * -nodefaults already leaves out QEMU's default card; `-nic none` says so outright, so a box
 * without a network has none whatever QEMU's defaults become.
 */
export function networkArgs(network: QemuSpec['network']): string[] {
  if (!network) return ['-nic', 'none'];
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(network.mac)) throw invalidArgument(`The MAC address ${network.mac} is not six hex pairs`);
  // Validated specs (shared/forwards.ts) only: numbers and dotted quads, nothing QEMU could read as another option.
  const forwards = network.forwards.map((f) => `,hostfwd=${f.protocol}:${f.hostAddress}:${f.hostPort}-:${f.guestPort}`).join('');
  return ['-netdev', `user,id=${NET_DEVICE_ID}${forwards}`, '-device', `virtio-net-pci,netdev=${NET_DEVICE_ID},mac=${network.mac}`];
}

/** QEMU's option syntax separates with commas; a literal comma is written twice. */
function opt(value: string): string {
  return value.replaceAll(',', ',,');
}

/**
 * The run folder of a box: `paths.runDir(boxId)` when its longest socket path fits in
 * sun_path, else `<tmpdir>/bk-<uid>/<home>-<boxId>` (then under `/tmp`), `<home>` a digest of the
 * home's real path: a copy of a home has the same box ids, and must not find (and take over) the
 * sockets of the original's QEMU. A box whose QEMU still runs from another such folder (the home
 * was moved while it ran) is found there. The choice depends only on the home path, the box id, the uid
 * and TMPDIR, so any later process derives the same folder and finds the same qemu.json.
 */
export function runDirFor(paths: HomePaths, boxId: string, options: { create?: boolean } = {}): string {
  const longest = RUN_SOCKETS.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a));
  const fits = (dir: string) => Buffer.byteLength(path.join(dir, longest)) <= MAX_SOCKET_PATH;
  const preferred = paths.runDir(boxId);
  const create = options.create ?? true;
  if (fits(preferred)) {
    if (create) mkdirDurable(preferred);
    return preferred;
  }
  const uid = process.getuid?.() ?? 0;
  for (const tmp of [os.tmpdir(), '/tmp']) {
    const base = path.join(tmp, `bk-${uid}`);
    const dir = path.join(base, `${homeDigest(paths.root)}-${boxId}`);
    if (!fits(dir)) continue;
    const elsewhere = runningElsewhere(base, boxId, dir, paths.liveDisk(boxId));
    if (elsewhere) return elsewhere;
    if (create) {
      ensurePrivateDir(base, uid);
      ensurePrivateDir(dir, uid);
    }
    return dir;
  }
  throw invalidArgument(`No run folder for box ${boxId} keeps its socket paths under 108 bytes; set TMPDIR to a short path such as /tmp`);
}

/** Of the real path: the same home reached through a symbolic link gets the same folder. */
function homeDigest(root: string): string {
  let real = root;
  try {
    real = fs.realpathSync(root);
  } catch {
    // Not there yet: its path as given.
  }
  return crypto.createHash('sha256').update(real).digest('hex').slice(0, 12);
}

/**
 * The box's QEMU still running in another folder of `base` for this box id: one started before
 * the home was moved (renamed) or before the folder carried the home's digest (until 2026-12 it
 * was `bk-<uid>/<boxId>`). Only this box's QEMU counts (isQemuOf: it holds this home's live
 * disk); a copy of the home, whose live disk is another file, never finds the original's.
 */
function runningElsewhere(base: string, boxId: string, dir: string, liveDisk: string): string | null {
  if (readFingerprint(dir)) return null;
  let names: string[];
  try {
    names = fs.readdirSync(base);
  } catch {
    return null;
  }
  for (const name of names) {
    if (name !== boxId && !name.endsWith(`-${boxId}`)) continue;
    const other = path.join(base, name);
    const fp = readFingerprint(other);
    if (other !== dir && fp && isQemuOf(fp, other, liveDisk)) return other;
  }
  return null;
}

/** A shared /tmp is writable by everyone: refuse a folder someone else made or can write. */
function ensurePrivateDir(dir: string, uid: number): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid) {
    throw vmError(`${dir} is not a folder owned by this user; remove it and try again`);
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

// --- fingerprints ------------------------------------------------------------------------

export interface QemuFingerprint {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot, unique per pid per boot. */
  startTime: string;
  bootId: string;
  startedAt: number;
  qmpSocket: string;
  serialSocket: string;
}

export { bootId as readBootId, isSameProcess, processStartTime } from '../proc.js';

export function fingerprintPath(runDir: string) { return path.join(runDir, FINGERPRINT_FILE); }

/**
 * Is the process `fp` names, still running, the QEMU started with this run folder and live
 * disk: its -pidfile this folder's qemu.pid, a -blockdev opening this disk? A record alone
 * proves nothing: a home copied while its box ran records the original's QEMU (which must be
 * neither taken over nor killed from the copy), and a pid is reused once its process is gone.
 */
export function isQemuOf(fp: ProcessFingerprint, runDir: string, liveDisk: string): boolean {
  // Fingerprint, look, fingerprint again: what was read is that process's.
  return isSameProcess(fp) && (holdsFile(fp.pid, liveDisk) || startedWith(fp.pid, path.join(runDir, PID_FILE), liveDisk)) && isSameProcess(fp);
}

/**
 * Has the process this very file open (the same inode, wherever it was opened from)? True of
 * the box's QEMU also after its home was moved (renamed) while it ran, when its command line
 * names the old paths; false in a copy of the home, whose files are other inodes.
 */
function holdsFile(pid: number, file: string): boolean {
  let target: fs.Stats;
  let fds: string[];
  try {
    target = fs.statSync(file);
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      const open = fs.statSync(`/proc/${pid}/fd/${fd}`);
      return open.ino === target.ino && open.dev === target.dev;
    } catch {
      return false; // closed meanwhile
    }
  });
}

function startedWith(pid: number, pidFile: string, liveDisk: string): boolean {
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const at = argv.indexOf('-pidfile');
  const disk = `"filename":${JSON.stringify(liveDisk)}`;
  return at >= 0 && argv[at + 1] === pidFile && argv.some((arg, i) => argv[i - 1] === '-blockdev' && arg.includes(disk));
}

/** The recorded fingerprint, or null when there is none or it is unreadable. */
export function readFingerprint(runDir: string): QemuFingerprint | null {
  try {
    const value = JSON.parse(fs.readFileSync(fingerprintPath(runDir), 'utf8')) as Partial<QemuFingerprint>;
    if (typeof value.pid !== 'number' || typeof value.startTime !== 'string' || typeof value.bootId !== 'string') return null;
    return value as QemuFingerprint;
  } catch {
    return null;
  }
}

// --- spawning ----------------------------------------------------------------------------

export interface SpawnedQemu {
  pid: number;
  fingerprint: QemuFingerprint;
  /**
   * Settles when QEMU exits, but only in the process that spawned it; a later process
   * learns of the exit through QMP's close instead. It does not keep Node's event loop
   * alive (the child is unref'd), so a script awaiting only this may exit first.
   */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts QEMU detached (own session, output to a log file, not waited for) and records its
 * fingerprint durably before returning, so a crash of this process right after leaves enough
 * for recovery to find, reattach to, or stop this QEMU.
 */
export async function spawnQemu(spec: QemuSpec): Promise<SpawnedQemu> {
  const previous = readFingerprint(spec.runDir);
  if (previous && isQemuOf(previous, spec.runDir, spec.liveDisk)) {
    throw new BoxkeepError('InvalidState', `QEMU is already running for ${spec.name} (pid ${previous.pid}); stop it before starting again`);
  }
  mkdirDurable(spec.runDir);
  mkdirDurable(path.dirname(spec.logFile));
  // A stale socket would accept nothing; removing it lets a QMP connect wait for the new one.
  for (const stale of RUN_SOCKETS.map((name) => path.join(spec.runDir, name))) {
    fs.rmSync(stale, { force: true });
  }
  // Screendumps a crash left between QEMU writing them and Boxkeep removing them (see screen.ts).
  for (const name of fs.readdirSync(spec.runDir)) if (name.startsWith('.screendump-')) fs.rmSync(path.join(spec.runDir, name), { force: true });
  const stderrLog = spec.stderrLog ?? path.join(path.dirname(spec.logFile), 'qemu.log');
  // Both logs are appended to at every start: cut back here, while nothing writes them.
  for (const log of [spec.logFile, stderrLog]) {
    try {
      trimLog(log);
    } catch {
      // One that cannot be read or replaced (a link, by hand) is left as it is: QEMU appends to it.
    }
  }
  const out = fs.openSync(stderrLog, 'a');
  const binary = spec.binary ?? QEMU_BINARY;
  let child;
  try {
    fs.writeSync(out, `--- ${new Date().toISOString()} starting ${binary}\n`);
    child = childProcess().spawn(binary, buildQemuArgs(spec), { detached: true, stdio: ['ignore', out, out, ...(spec.inherit ?? [])] });
  } finally {
    fs.closeSync(out);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    const err = await spawnError;
    throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? qemuMissing(binary) : vmError(`Could not start QEMU: ${err.message}`, err);
  }
  const startTime = processStartTime(pid);
  if (startTime === null) {
    throw vmError(`QEMU exited immediately: ${await lastWords(stderrLog)}`);
  }
  const fingerprint: QemuFingerprint = {
    pid,
    startTime,
    bootId: readBootId(),
    startedAt: Date.now(),
    qmpSocket: qmpSocketPath(spec.runDir),
    serialSocket: serialSocketPath(spec.runDir),
  };
  writeFileDurable(fingerprintPath(spec.runDir), JSON.stringify(fingerprint, null, 2));
  return { pid, fingerprint, exited };
}

/** The tail of QEMU's own log, for error messages. */
export async function lastWords(stderrLog: string, lines = 5): Promise<string> {
  const tail = (await tailLines(stderrLog, lines + 1)).filter((l) => l && !l.startsWith('--- '));
  return tail.slice(-lines).join(' | ') || '(QEMU printed nothing)';
}

function qemuMissing(binary: string): BoxkeepError {
  return vmError(`${path.basename(binary)} was not found; install it with: sudo apt-get install qemu-system-x86`);
}

/** `7.2.22` for QEMU 7.2.22; throws a clear error when QEMU is not installed. */
export function qemuVersion(binary: string = QEMU_BINARY): Promise<string> {
  return new Promise((resolve, reject) => {
    childProcess().execFile(binary, ['--version'], { timeout: 10_000 }, (err, stdout) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') return reject(qemuMissing(binary));
      if (err) return reject(vmError(`${binary} --version failed: ${err.message}`, err));
      const version = /version\s+(\d+\.\d+(?:\.\d+)?)/.exec(stdout)?.[1];
      if (!version) return reject(vmError(`Could not read the QEMU version from: ${stdout.trim().slice(0, 200)}`));
      resolve(version);
    });
  });
}
