// Real QEMU under TCG with the tiny guest: two boots of one box, driven through our QMP
// client and the serial console, checking what the guest itself reads back from its disk.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HomePaths } from '../../electron/core/paths.js';
import { newId } from '../../electron/core/ids.js';
import { QmpClient } from '../../electron/core/vm/qmp.js';
import {
  spawnQemu, isSameProcess, readFingerprint, runDirFor, qemuVersion, lastWords, type QemuSpec, type SpawnedQemu,
} from '../../electron/core/vm/qemu.js';
import { detectAccelerator, kvmSmokeBoot } from '../../electron/core/vm/accel.js';
import { findOvmf } from '../../electron/core/vm/firmware.js';
import { tailLines } from '../../electron/core/vm/console.js';
import { requireTools, tempHome } from '../helpers/disk.js';
import { buildGuest, makeDataDisk, SerialDriver, type Guest } from '../helpers/guest.js';

let guest: Guest;
const home = tempHome('bkq');
const paths = new HomePaths(path.join(home.dir, 'home'));
const boxId = newId();
const figures: Record<string, number | string> = {};
const started: SpawnedQemu[] = [];

beforeAll(() => {
  requireTools('qemu-system-x86_64', 'qemu-img', 'busybox', 'mkfs.ext4', 'cpio');
  const t = performance.now();
  guest = buildGuest();
  figures.guestBuildMs = Math.round(performance.now() - t);
});

afterAll(() => {
  for (const q of started) if (isSameProcess(q.fingerprint)) process.kill(q.pid, 'SIGKILL');
  console.log('qemu-boot figures', JSON.stringify(figures));
  home.cleanup();
});

function boxSpec(): QemuSpec {
  return {
    name: `box-${boxId}`,
    cpus: 1,
    memoryMib: 128,
    accel: 'tcg',
    kernel: guest.kernel,
    initrd: guest.initrd,
    liveDisk: paths.liveDisk(boxId),
    runDir: runDirFor(paths, boxId),
    logFile: path.join(paths.logsDir(boxId), 'serial.log'),
  };
}

/** Spawn → QMP → serial ready line, timing each step. */
/** `logOffset`: where in the serial log this boot's ready line is looked for (default: the log's end before it). */
async function boot(label: string, opts: { logOffset?: number } = {}) {
  const spec = boxSpec();
  const logOffset = opts.logOffset ?? (fs.existsSync(spec.logFile) ? fs.statSync(spec.logFile).size : 0);
  const t0 = performance.now();
  const qemu = await spawnQemu(spec);
  started.push(qemu);
  const qmp = await QmpClient.connect(qemu.fingerprint.qmpSocket, { timeoutMs: 10_000, isAlive: () => isSameProcess(qemu.fingerprint) });
  figures[`${label}.spawnToQmpMs`] = Math.round(performance.now() - t0);
  const serial = await SerialDriver.connect(qemu.fingerprint.serialSocket);
  const ready = await serial.ready(60_000, { file: spec.logFile, fromOffset: logOffset });
  figures[`${label}.spawnToReadyMs`] = Math.round(performance.now() - t0);
  return { spec, qemu, qmp, serial, ready };
}

const rssMiB = (pid: number) => {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return Math.round(kb / 1024);
};

describe('a box on real QEMU (TCG, tiny guest)', () => {
  it('boots detached, runs commands on its disk, pauses and resumes, and powers off cleanly', async () => {
    makeDataDisk(paths.liveDisk(boxId), 64, { 'hello.txt': 'from the host\n' });
    const { qemu, qmp, serial, ready, spec } = await boot('boot1');
    expect(ready).toBe('BOXKEEP-GUEST-READY disk=mounted net=none');

    // Detached: its own session, and a fingerprint on disk that matches the live process.
    expect(fs.readFileSync(`/proc/${qemu.pid}/stat`, 'utf8').split(' ')[5]).toBe(String(qemu.pid));
    expect(readFingerprint(spec.runDir)).toEqual(qemu.fingerprint);
    expect(isSameProcess(qemu.fingerprint)).toBe(true);

    expect(await serial.run('cat /mnt/hello.txt')).toEqual({ status: 0, output: 'from the host' });
    expect(await serial.run('echo written-by-guest > /mnt/probe.txt && sync')).toEqual({ status: 0, output: '' });
    expect(await serial.run('cat /mnt/probe.txt')).toEqual({ status: 0, output: 'written-by-guest' });
    expect((await serial.run('cat /mnt/absent.txt')).status).toBe(1);
    expect(await serial.run('printf no-newline')).toEqual({ status: 0, output: 'no-newline' });
    await expect(serial.run('if then')).rejects.toThrow(/rejected the syntax/);
    expect(await serial.run('echo still alive')).toEqual({ status: 0, output: 'still alive' });

    expect(await qmp.execute('query-status')).toMatchObject({ status: 'running', running: true });
    figures.rssMiB_m128 = rssMiB(qemu.pid);

    const stopped = qmp.waitForEvent('STOP');
    await qmp.execute('stop');
    await stopped;
    expect(await qmp.execute('query-status')).toMatchObject({ status: 'paused' });
    const resumed = qmp.waitForEvent('RESUME');
    await qmp.execute('cont');
    await resumed;
    expect(await serial.run('echo after resume')).toEqual({ status: 0, output: 'after resume' });

    // A clean stop is the guest's own poweroff (no acpid for system_powerdown).
    const shutdown = qmp.waitForEvent('SHUTDOWN', undefined, 20_000);
    const closed = new Promise<Error | null>((resolve) => qmp.onClose(resolve));
    serial.send('sync; umount /mnt; poweroff -f');
    expect((await shutdown).data).toMatchObject({ guest: true });
    await closed;
    expect(await qemu.exited).toEqual({ code: 0, signal: null });
    expect(isSameProcess(qemu.fingerprint)).toBe(false);
    serial.close();
    expect((await tailLines(spec.logFile, 20)).join('\n')).toContain('BOXKEEP-GUEST-READY');
  });

  it('starts again with the data still there, refuses a second QEMU, and sees a kill -9 through QMP; a serial log grown past 8 MiB is cut back first', async () => {
    // A chatty guest's log, appended to across boots: 9 MiB of lines, the last one known.
    const logFile = boxSpec().logFile;
    const line = (i: number) => `filler line ${String(i).padStart(7, '0')} ${'x'.repeat(40)}\n`;
    const lines = Math.ceil((9 * 1024 * 1024) / line(0).length);
    fs.appendFileSync(logFile, Array.from({ length: lines }, (_, i) => line(i)).join('') + 'OLD-TAIL-MARK\n');
    // The kept part holds no earlier ready line: the one found is this boot's.
    const { qemu, qmp, serial, spec } = await boot('boot2', { logOffset: 0 });
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log.length).toBeLessThan(1.1 * 1024 * 1024);
    expect(log).toMatch(/^--- Boxkeep removed \d+ bytes of earlier output from this log \(it had grown past 8388608 bytes\)\r\nfiller line \d{7} x{40}\n/);
    expect(log.indexOf('OLD-TAIL-MARK')).toBeLessThan(log.indexOf('BOXKEEP-GUEST-READY'));
    expect(await serial.run('cat /mnt/probe.txt')).toEqual({ status: 0, output: 'written-by-guest' });
    await expect(spawnQemu(spec)).rejects.toThrow(/already running .*pid \d+.*stop it/);
    expect(isSameProcess(qemu.fingerprint)).toBe(true);

    // A second QEMU on the same disk (say, from a lost run folder) dies on the image lock;
    // its own log says why, for the error the user sees.
    const otherRun = path.join(home.dir, 'other-run');
    const intruder = await spawnQemu({ ...spec, runDir: otherRun, stderrLog: path.join(otherRun, 'qemu.log') });
    started.push(intruder);
    await expect(QmpClient.connect(intruder.fingerprint.qmpSocket, { isAlive: () => isSameProcess(intruder.fingerprint) }))
      .rejects.toMatchObject({ code: 'Vm' }); // "exited before…" or "closed before…", by timing
    expect(await lastWords(path.join(otherRun, 'qemu.log'))).toContain('Failed to get "write" lock');
    expect(await serial.run('echo unharmed')).toEqual({ status: 0, output: 'unharmed' });

    const closed = new Promise<Error | null>((resolve) => qmp.onClose(resolve));
    const inFlight = qmp.waitForEvent('SHUTDOWN', undefined, 10_000);
    process.kill(qemu.pid, 'SIGKILL');
    await closed;
    await expect(inFlight).rejects.toThrow(/closed its QMP connection/);
    expect(await qemu.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(isSameProcess(qemu.fingerprint)).toBe(false);
    serial.close();
  });
});

describe('detectAccelerator', () => {
  const cacheFile = () => path.join(home.dir, 'accel.json');
  const ovmfCode = findOvmf().code;
  /** A QEMU that answers --version and cannot start a machine: the smoke boot fails on any host. */
  const brokenQemu = () => {
    const file = path.join(home.dir, 'qemu-broken');
    fs.writeFileSync(file, '#!/bin/sh\nif [ "$1" = --version ]; then exec qemu-system-x86_64 --version; fi\necho "failed to initialize kvm: No such device" >&2\nexit 1\n', { mode: 0o755 });
    return file;
  };
  const fakeHost = () => {
    const fakeKvm = path.join(home.dir, 'kvm');
    fs.writeFileSync(fakeKvm, '');
    const cpuinfo = path.join(home.dir, 'cpuinfo-vmx');
    fs.writeFileSync(cpuinfo, 'processor\t: 0\nflags\t\t: fpu vmx sse2\n');
    return { devKvm: fakeKvm, cpuinfo };
  };

  it('chooses TCG at once on this host when KVM is missing or has no vmx/svm, with the reason', async () => {
    fs.rmSync(cacheFile(), { force: true });
    const decision = await detectAccelerator({ ovmfCode, cacheFile: cacheFile() });
    figures.accel = `${decision.accel}: ${decision.reason}`;
    const hostFlags = /^flags\s*:.*\b(vmx|svm)\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (!fs.existsSync('/dev/kvm')) expect(decision).toMatchObject({ accel: 'tcg', reason: expect.stringContaining('/dev/kvm') });
    else if (!hostFlags) expect(decision).toMatchObject({ accel: 'tcg', reason: expect.stringContaining('no vmx/svm') });
    // A host KVM the flags vouch for is decided by the smoke boot (the last test of this file).
    else expect(decision.reason).toMatch(/^KVM smoke boot /);
    const cpuinfo = path.join(home.dir, 'cpuinfo');
    fs.writeFileSync(cpuinfo, 'processor\t: 0\nflags\t\t: fpu sse2 hypervisor\n');
    fs.rmSync(cacheFile(), { force: true });
    expect(await detectAccelerator({ ovmfCode, cacheFile: cacheFile(), devKvm: fakeHost().devKvm, cpuinfo }))
      .toEqual({ accel: 'tcg', reason: expect.stringContaining('no vmx/svm'), cached: false });
    expect(fs.existsSync(cacheFile())).toBe(false);
  });

  it('the smoke boot needs nothing of a box: OVMF gets to its boot manager, SeaBIOS to its last line, and still runs (under TCG here)', async () => {
    const ovmf = await kvmSmokeBoot({ ovmfCode, accel: 'tcg', stayUpMs: 500 });
    expect(ovmf).toEqual({ ok: true, detail: 'OVMF got to "BdsDxe" and was still running 500 ms later' });
    const seabios = await kvmSmokeBoot({ ovmfCode: null, accel: 'tcg', stayUpMs: 500 });
    expect(seabios).toEqual({ ok: true, detail: 'SeaBIOS got to "No bootable device" and was still running 500 ms later' });
    expect(await kvmSmokeBoot({ ovmfCode, binary: brokenQemu() })).toEqual({ ok: false, detail: 'QEMU exited: failed to initialize kvm: No such device' });
  });

  it('falls back to TCG when the KVM smoke boot fails, and caches that per boot and QEMU version', async () => {
    fs.rmSync(cacheFile(), { force: true });
    const options = { ovmfCode, cacheFile: cacheFile(), ...fakeHost(), binary: brokenQemu(), timeoutMs: 15_000 };
    const first = await detectAccelerator(options);
    expect(first).toEqual({ accel: 'tcg', cached: false, reason: 'KVM smoke boot failed: QEMU exited: failed to initialize kvm: No such device' });
    const cache = JSON.parse(fs.readFileSync(cacheFile(), 'utf8'));
    expect(cache.key).toContain(`qemu-${await qemuVersion()}`);
    expect(await detectAccelerator(options)).toEqual({ ...first, cached: true });
  });

  it("this host's own KVM, past the pre-check: used only where a 64-bit firmware runs on it", async () => {
    fs.rmSync(cacheFile(), { force: true });
    const decision = await detectAccelerator({ ovmfCode, cacheFile: cacheFile(), ...fakeHost(), timeoutMs: 10_000 });
    figures.kvmProbe = `${decision.accel}: ${decision.reason}`;
    const flags = /^flags\s*:.*\b(vmx|svm)\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (!fs.existsSync('/dev/kvm')) expect(decision).toMatchObject({ accel: 'tcg', reason: expect.stringMatching(/^KVM smoke boot failed: QEMU exited/) });
    else if (flags) expect(decision).toMatchObject({ accel: 'kvm', reason: 'KVM smoke boot stayed up: OVMF got to "BdsDxe" and was still running 3000 ms later' });
    // A KVM the CPU flags do not vouch for (nested, paravirtual): here 16-bit SeaBIOS runs on
    // it, and a 64-bit guest never gets going; OVMF tells the two apart.
    else expect(decision).toMatchObject({ accel: 'tcg', reason: 'KVM smoke boot failed: OVMF did not get to "BdsDxe" within 10000 ms' });
    fs.rmSync(cacheFile(), { force: true });
  }, 60_000);
});

