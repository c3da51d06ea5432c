// KVM or TCG. /dev/kvm existing proves little: on a host that is itself a VM with nested
// "pvm" KVM, `-accel kvm` initialises and the guest dies tens of seconds later with a KVM
// internal error (or, as on the machine this was written on, a 64-bit guest never gets past
// its first instructions while 16-bit SeaBIOS runs fine), and `-accel kvm -accel tcg` does not
// fall back because KVM did start. So: cheap checks first, then a real smoke boot, and the
// verdict cached per host boot and QEMU version, the same for every box whatever it boots.
//
// The smoke boot needs nothing of the box's: no kernel (a disk image, an installer, a user's
// own kernel would print nothing to wait for), no disk. It boots QEMU's own firmware: OVMF
// when installed (64-bit UEFI: long mode, paging, timers; it must reach its boot manager,
// "BdsDxe", on the serial port), else SeaBIOS (it must reach "No bootable device" on its
// debug port), and the machine must still be running a few seconds later.
import type { ChildProcess } from 'node:child_process';
import { childProcess } from '../builtins.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { elapsedMs, silentLogger, type Logger } from '../logger.js';
import { writeFileDurable, mkdirDurable } from '../fsutil.js';
import { qemuVersion, readBootId, qmpSocketPath, QEMU_BINARY, type Accel } from './qemu.js';
import { QmpClient } from './qmp.js';

export interface DetectAcceleratorOptions {
  /** Where the verdict is kept, keyed by host boot id + QEMU version. */
  cacheFile: string;
  /** OVMF's code file (vm/firmware.ts findOvmf), the stronger smoke boot; null: SeaBIOS's. */
  ovmfCode: string | null;
  logger?: Logger;
  /** The whole smoke boot, spawn to verdict (default 15 s; OVMF reaches its boot manager in ~3 s under TCG, well under 1 s under KVM). */
  timeoutMs?: number;
  /** How long the machine must stay up after its firmware got there (default 3 s). */
  stayUpMs?: number;
  binary?: string;
  /** Overridable for tests; default /dev/kvm and /proc/cpuinfo. */
  devKvm?: string;
  cpuinfo?: string;
}

export interface AccelDecision {
  accel: Accel;
  reason: string;
  /** The verdict came from cacheFile rather than a smoke boot. */
  cached: boolean;
}

interface CachedVerdict {
  key: string;
  accel: Accel;
  reason: string;
  decidedAt: number;
}

export async function detectAccelerator(options: DetectAcceleratorOptions): Promise<AccelDecision> {
  const logger = options.logger ?? silentLogger;
  const started = performance.now();
  const decide = (decision: AccelDecision) => {
    logger.info('accelerator chosen', { op: 'accel', ...decision, elapsed_ms: elapsedMs(started) });
    return decision;
  };
  const precheck = kvmPrecheck(options.devKvm ?? '/dev/kvm', options.cpuinfo ?? '/proc/cpuinfo');
  if (precheck) return decide({ accel: 'tcg', reason: precheck, cached: false });

  const key = verdictKey(await qemuVersion(options.binary));
  const cached = readCache(options.cacheFile);
  if (cached?.key === key) return decide({ accel: cached.accel, reason: cached.reason, cached: true });

  const smoke = await kvmSmokeBoot(options);
  const decision: AccelDecision = smoke.ok
    ? { accel: 'kvm', reason: `KVM smoke boot stayed up: ${smoke.detail}`, cached: false }
    : { accel: 'tcg', reason: `KVM smoke boot failed: ${smoke.detail}`, cached: false };
  mkdirDurable(path.dirname(options.cacheFile));
  const record: CachedVerdict = { key, accel: decision.accel, reason: decision.reason, decidedAt: Date.now() };
  writeFileDurable(options.cacheFile, JSON.stringify(record, null, 2));
  return decide(decision);
}

/**
 * What the next start will use, known without a smoke boot: TCG when KVM cannot be had here,
 * the cached verdict when it is this boot's and this QEMU's, else 'unknown' (for `boxkeep info`
 * in a process that has not started a box).
 */
export async function knownAccelerator(options: Pick<DetectAcceleratorOptions, 'cacheFile' | 'binary' | 'devKvm' | 'cpuinfo'> & { version?: string }): Promise<Accel | 'unknown'> {
  if (kvmPrecheck(options.devKvm ?? '/dev/kvm', options.cpuinfo ?? '/proc/cpuinfo')) return 'tcg';
  const cached = readCache(options.cacheFile);
  if (!cached) return 'unknown';
  try {
    return cached.key === verdictKey(options.version ?? (await qemuVersion(options.binary))) ? cached.accel : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What a kept verdict is good for: this host boot and this QEMU. */
const verdictKey = (version: string) => `${readBootId()}|qemu-${version}`;

/** A reason to use TCG without trying KVM, or null when KVM is worth a smoke boot. */
function kvmPrecheck(devKvm: string, cpuinfo: string): string | null {
  if (!fs.existsSync(devKvm)) return `${devKvm} does not exist (KVM is not available on this host)`;
  try {
    fs.accessSync(devKvm, fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return `${devKvm} is not readable and writable by this user (add the user to the kvm group)`;
  }
  let text = '';
  try {
    text = fs.readFileSync(cpuinfo, 'utf8');
  } catch {
    return `${cpuinfo} is unreadable, so hardware virtualisation cannot be confirmed`;
  }
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(text)) {
    return 'the CPU reports no vmx/svm flag (a nested or paravirtual KVM that cannot run guests reliably)';
  }
  return null;
}

function readCache(file: string): CachedVerdict | null {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as CachedVerdict;
    return (value.accel === 'kvm' || value.accel === 'tcg') && typeof value.key === 'string' ? value : null;
  } catch {
    return null;
  }
}

/**
 * Boots QEMU's firmware under KVM (see the top of this file): it must get to its marker, stay
 * up stayUpMs, and still be `running` (a KVM emulation failure leaves it `internal-error`).
 * QEMU is always killed afterwards; it runs attached, as it is ours alone. `accel`: tcg only
 * for a test that the probe itself works on any host.
 */
export async function kvmSmokeBoot(options: Pick<DetectAcceleratorOptions, 'ovmfCode' | 'timeoutMs' | 'stayUpMs' | 'binary'> & { accel?: Accel }): Promise<{ ok: boolean; detail: string }> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const stayUpMs = options.stayUpMs ?? 3_000;
  const deadline = Date.now() + timeoutMs;
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-accel-'));
  const logFile = path.join(runDir, 'firmware.log');
  const firmware = options.ovmfCode ? 'OVMF' : 'SeaBIOS';
  const marker = options.ovmfCode ? 'BdsDxe' : 'No bootable device';
  let stderr = '';
  let exited = false;
  let child: ChildProcess | null = null;
  let qmp: QmpClient | null = null;
  try {
    const args = [
      '-name', 'boxkeep-kvm-probe', '-accel', options.accel ?? 'kvm', '-nodefaults', '-no-user-config', '-display', 'none', '-m', '128',
      '-qmp', `unix:${qmpSocketPath(runDir)},server=on,wait=off`,
      // OVMF writes its boot manager to the serial port, SeaBIOS its log to the debug port.
      ...(options.ovmfCode
        ? ['-drive', `if=pflash,format=raw,readonly=on,file=${options.ovmfCode}`, '-serial', `file:${logFile}`]
        : ['-chardev', `file,id=bios,path=${logFile}`, '-device', 'isa-debugcon,iobase=0x402,chardev=bios']),
    ];
    child = childProcess().spawn(options.binary ?? QEMU_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-2000); });
    const exit = new Promise<void>((resolve) => child!.once('close', () => { exited = true; resolve(); }));
    child.once('error', () => { exited = true; });
    const why = () => stderr.trim().split('\n').slice(-2).join(' | ') || 'no message';
    try {
      qmp = await QmpClient.connect(qmpSocketPath(runDir), { timeoutMs: Math.max(deadline - Date.now(), 1), isAlive: () => !exited });
    } catch (err) {
      await Promise.race([exit, sleep(200)]);
      return { ok: false, detail: exited ? `QEMU exited: ${why()}` : (err as Error).message };
    }
    while (!readText(logFile).includes(marker)) {
      if (exited) return { ok: false, detail: `QEMU exited before ${firmware} got to "${marker}": ${why()}` };
      if (Date.now() > deadline) return { ok: false, detail: `${firmware} did not get to "${marker}" within ${timeoutMs} ms` };
      await sleep(100);
    }
    await Promise.race([exit, sleep(stayUpMs)]);
    if (exited) return { ok: false, detail: `QEMU exited ${stayUpMs} ms after ${firmware} got to "${marker}": ${why()}` };
    const status = await qmp.execute<{ status: string }>('query-status', undefined, { timeoutMs: 5_000 });
    if (status.status !== 'running') return { ok: false, detail: `the machine is ${status.status} ${stayUpMs} ms after ${firmware} got to "${marker}"` };
    return { ok: true, detail: `${firmware} got to "${marker}" and was still running ${stayUpMs} ms later` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    qmp?.close();
    if (child && !exited) child.kill('SIGKILL');
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
