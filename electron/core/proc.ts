// Process identity that survives pid reuse and host reboots: pid + start time + boot id.
import fs from 'node:fs';

export function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or null if gone. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

export interface ProcessFingerprint {
  pid: number;
  startTime: string | null;
  bootId: string;
}

export function fingerprintOf(pid: number): ProcessFingerprint {
  return { pid, startTime: processStartTime(pid), bootId: bootId() };
}

/** True only when the same process (not a recycled pid, not from before a reboot) still runs. */
export function isSameProcess(fp: ProcessFingerprint): boolean {
  if (!Number.isInteger(fp.pid) || fp.pid <= 0) return false;
  if (fp.bootId !== bootId()) return false;
  const now = processStartTime(fp.pid);
  return now !== null && now === fp.startTime;
}
