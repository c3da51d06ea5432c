// Process identity that survives pid reuse and host reboots: pid + start time + boot id.
import fs from 'node:fs';

export function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

interface ProcStat { state: string; startTime: string }

/** Null when there is no such process. The command name (field 2) may hold spaces and ')'. */
function readProcStat(pid: number): ProcStat | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '', startTime: rest[19] ?? '' };
  } catch {
    return null;
  }
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or null if gone. */
export function processStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}

export interface ProcessFingerprint {
  pid: number;
  startTime: string | null;
  bootId: string;
}

export function fingerprintOf(pid: number): ProcessFingerprint {
  return { pid, startTime: processStartTime(pid), bootId: bootId() };
}

/**
 * True only when the same process (not a recycled pid, not from before a reboot) still runs.
 * A zombie counts as gone: it has exited and only waits for its parent to reap it.
 */
export function isSameProcess(fp: ProcessFingerprint): boolean {
  if (!Number.isInteger(fp.pid) || fp.pid <= 0) return false;
  if (fp.bootId !== bootId()) return false;
  const stat = readProcStat(fp.pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return stat.startTime === fp.startTime;
}

/**
 * "dev:ino" of every file a process has open for reading (its /proc/<pid>/fd entries, followed;
 * a write-only descriptor, by its fdinfo flags, left out): a disk image is opened readable, a
 * log or pidfile write-only, so a checked file held only as QEMU's log is not held as a disk.
 */
export function openInodes(pid: number): Set<string> {
  const held = new Set<string>();
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return held;
  }
  for (const fd of fds) {
    try {
      const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (!flags || (parseInt(flags[1]!, 8) & 3) === fs.constants.O_WRONLY) continue;
      const st = fs.statSync(`/proc/${pid}/fd/${fd}`);
      held.add(`${st.dev}:${st.ino}`);
    } catch {
      /* closed meanwhile */
    }
  }
  return held;
}
