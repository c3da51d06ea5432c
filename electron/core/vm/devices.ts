// The device configuration of a QEMU: what a migration stream (a snapshot's memory state) can
// only be loaded into again. It is read from the QEMU command line, so whatever a later change
// adds to buildQemuArgs (a device, a CPU flag) is part of it without being listed here. Paths
// (sockets, logs, disk layers) and block node graphs are not: a restore runs with another run
// folder and another chain of node names, and the stream names devices, not files.
import fs from 'node:fs';
import { crypto } from '../builtins.js';

/** Options whose value shapes the machine the guest sees. */
const DEVICE_OPTIONS = new Set(['-machine', '-accel', '-cpu', '-smp', '-m', '-device', '-kernel', '-initrd', '-append', '-nic', '-netdev']);

const PATH_OPTIONS = new Set(['-kernel', '-initrd']);

/** The machine-shaping options of an argv, in order, as `option value` lines. */
export function deviceConfig(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length - 1; i++) {
    const option = args[i]!;
    if (!DEVICE_OPTIONS.has(option)) continue;
    // A host port forward is the host's business: the guest's card is the same without it.
    // The kernel and initrd are files of the home (which may move); a running guest has them
    // in its RAM already: only that it booted them counts.
    const value = option === '-netdev' ? args[i + 1]!.replace(/,hostfwd=[^,]*/g, '') : PATH_OPTIONS.has(option) ? '(file)' : args[i + 1]!;
    out.push(`${option} ${value}`);
    i++;
  }
  return out;
}

export function deviceHash(args: readonly string[]): string {
  return crypto().createHash('sha256').update(deviceConfig(args).join('\n')).digest('hex');
}

/** The command line a running process was started with (QEMU's, for the snapshot's device hash). */
export function processArgs(pid: number): string[] {
  const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  return raw.split('\0').slice(1, -1);
}
