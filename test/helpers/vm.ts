// A core with the tiny guest imported as a direct-boot image whose disk is an ext4 data disk,
// and helpers to start a box and drive its console.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openCore, type Core } from '../../electron/core/core.js';
import type { Logger } from '../../electron/core/logger.js';
import type { Supervisor } from '../../electron/core/vm/supervisor.js';
import { GuestAgent } from '../../electron/core/vm/agent.js';
import { qgaSocketPath } from '../../electron/core/vm/qemu.js';
import { requireTools, tempHome } from './disk.js';
import { buildGuest, makeDataDisk, SerialDriver } from './guest.js';

export interface VmHome {
  dir: string;
  core: Core;
  cleanup(): Promise<void>;
  reopen(): Promise<Core>;
}

/**
 * Short home path on purpose: socket paths must stay under 108 bytes. `append` replaces the
 * image's kernel command line (e.g. AGENT_APPEND: the guest runs qemu-ga); `stopTimeoutMs` the
 * graceful stop's wait; `memoryStallMs` how long a memory load waits on a QEMU that takes
 * nothing; `logger` sees what the core logs.
 */
export async function openVmHome(options: { append?: string; stopTimeoutMs?: number; memoryStallMs?: number; logger?: Logger } = {}): Promise<VmHome> {
  requireTools('qemu-system-x86_64', 'qemu-img', 'qemu-io', 'mkfs.ext4', 'cpio', 'busybox');
  const guest = buildGuest();
  const tmp = tempHome('bkv');
  const data = makeDataDisk(path.join(tmp.dir, 'data.qcow2'), 64, { 'hello.txt': 'hello from the image\n' });
  const home = path.join(tmp.dir, 'h');
  const opts = { home, owner: 'test' as const, supervisor: { stopTimeoutMs: options.stopTimeoutMs ?? 2000, ...(options.memoryStallMs ? { memoryStallMs: options.memoryStallMs } : {}) }, ...(options.logger ? { logger: options.logger } : {}) };
  const core = await openCore(opts);
  await core.images.import({ path: data, name: 'tiny', kernelPath: guest.kernel, initrdPath: guest.initrd, append: options.append ?? 'console=ttyS0 panic=-1 quiet' });
  fs.rmSync(data);
  const h: VmHome = {
    dir: home, core,
    async reopen() {
      await h.core.close().catch(() => {});
      h.core = await openCore(opts);
      return h.core;
    },
    async cleanup() {
      const sup = h.core.vms as Supervisor;
      for (const id of [...sup.sessions.keys()]) await h.core.vms.stop(id, { force: true }).catch(() => {});
      await h.core.close().catch(() => {});
      tmp.cleanup();
    },
  };
  return h;
}

/** A VM home with the box "vm" made from the tiny image and booted to its command loop: how most VM test files begin. */
export async function openBootedVm(options: Parameters<typeof openVmHome>[0] = {}): Promise<{ h: VmHome; con: SerialDriver }> {
  const h = await openVmHome(options);
  await h.core.boxes.create({ name: 'vm', image: 'tiny' });
  return { h, con: await boot(h.core, 'vm') };
}

/**
 * The booted box "vm" shared by one test file's tests: booted before the first (then `setup`
 * runs), stopped and its home removed after the last. A test that restarts the box or
 * reattaches its console sets `vm.con` to the new one, which is the one closed at the end.
 */
export function sharedBootedVm(setup?: (vm: { h: VmHome; con: SerialDriver }) => Promise<void>, options: Parameters<typeof openVmHome>[0] = {}): { h: VmHome; con: SerialDriver } {
  const vm = {} as { h: VmHome; con: SerialDriver };
  beforeAll(async () => {
    Object.assign(vm, await openBootedVm(options));
    await setup?.(vm);
  });
  afterAll(async () => {
    vm.con?.close();
    await vm.h?.cleanup();
  });
  return vm;
}

/** The console of a running box, once the guest's command loop is ready. */
export async function consoleOf(core: Core, boxId: string, opts: { fresh?: boolean } = {}): Promise<SerialDriver> {
  const sup = core.vms as Supervisor;
  const session = sup.session(boxId);
  const driver = await SerialDriver.connect(path.join(session.runDir, 'serial.sock'));
  if (opts.fresh === false) {
    const probe = await driver.run('echo alive', 30_000);
    if (!probe.output.includes('alive')) throw new Error('the guest console does not answer');
    return driver;
  }
  await driver.ready(90_000, { file: sup.logFile(boxId), fromOffset: 0 });
  return driver;
}

/** Starts a box and waits for its guest; returns the console. */
export async function boot(core: Core, box: string): Promise<SerialDriver> {
  const b = core.boxes.resolve(box);
  const log = (core.vms as Supervisor).logFile(b.id);
  const offset = fs.existsSync(log) ? fs.statSync(log).size : 0;
  await core.vms.start(b.id);
  const sup = core.vms as Supervisor;
  const driver = await SerialDriver.connect(path.join(sup.session(b.id).runDir, 'serial.sock'));
  await driver.ready(90_000, { file: log, fromOffset: offset });
  return driver;
}

/** Runs a guest command and fails loudly when it fails. */
export async function sh(driver: SerialDriver, cmd: string, timeoutMs = 30_000): Promise<string> {
  const r = await driver.run(cmd, timeoutMs);
  if (r.status !== 0) throw new Error(`guest command failed (${r.status}): ${cmd}\n${r.output}`);
  return r.output;
}

/** Size of a box's console log now: pass it to attach() to wait for the next boot only. */
export function logSize(core: Core, box: string): number {
  const log = (core.vms as Supervisor).logFile(core.boxes.resolve(box).id);
  return fs.existsSync(log) ? fs.statSync(log).size : 0;
}

/** The console of a box something else started, once the boot after `fromOffset` is ready. */
export async function attach(core: Core, box: string, fromOffset: number): Promise<SerialDriver> {
  const b = core.boxes.resolve(box);
  const sup = core.vms as Supervisor;
  const driver = await SerialDriver.connect(path.join(sup.session(b.id).runDir, 'serial.sock'));
  await driver.ready(90_000, { file: sup.logFile(b.id), fromOffset });
  return driver;
}

/** What a running guest's agent says of its filesystems ('frozen', 'thawed'), asked directly (no owner in between). */
export async function agentFreezeStatus(runDir: string): Promise<string> {
  const agent = await GuestAgent.connect(qgaSocketPath(runDir), { syncTimeoutMs: 10_000 });
  if (!agent) throw new Error('the guest agent did not answer');
  try {
    return await agent.call<string>('guest-fsfreeze-status', undefined, 10_000);
  } finally {
    agent.close();
  }
}
