// A QEMU a test or a benchmark started and did not stop (it failed first, was interrupted, or
// killed its owner on purpose) keeps running detached, paused at -S or not, long after its home is removed. These
// find it by what the home recorded and kill it, never by name: other people's QEMUs run on
// this machine.
import fs from 'node:fs';
import path from 'node:path';
import { HomePaths } from '../paths.js';
import { fingerprintOf, isSameProcess, type ProcessFingerprint } from '../proc.js';
import { isQemuOf, PID_FILE, readFingerprint, runDirFor } from './qemu.js';

/**
 * The QEMU recorded for a box of this home: the pid in qemu.json (its owner wrote it), else the
 * pid QEMU wrote to qemu.pid itself (there is no qemu.json yet when its owner died right after
 * the spawn). Either way only a process that is still the one seen (pid, start time, boot id)
 * and whose command line is this box's QEMU: its -pidfile is this very file and it opens this
 * home's live disk. A record alone proves nothing: a home copied while its box ran records a
 * QEMU that belongs to the original, and a pid is reused once its process is gone.
 */
function recordedQemu(paths: HomePaths, boxId: string): ProcessFingerprint | null {
  const runDir = runDirFor(paths, boxId, { create: false });
  const pidFile = path.join(runDir, PID_FILE);
  for (const fp of [readFingerprint(runDir), pidFileFingerprint(pidFile)]) {
    if (fp && isQemuOf(fp, runDir, paths.liveDisk(boxId))) return fp;
  }
  return null;
}

function pidFileFingerprint(pidFile: string): ProcessFingerprint | null {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 0 ? fingerprintOf(pid) : null;
}

/** SIGKILLs the recorded QEMU of each box and waits (up to 5 s) until it is gone; returns the pids killed. */
export function killLeftoverQemu(home: string, boxIds: string[]): number[] {
  const paths = new HomePaths(home);
  const killed: ProcessFingerprint[] = [];
  for (const id of boxIds) {
    const qemu = recordedQemu(paths, id);
    if (!qemu) continue;
    try {
      process.kill(qemu.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') continue; // it exited on its own meanwhile
      throw err;
    }
    killed.push(qemu);
  }
  // Synchronous on purpose (cleanup callbacks are): a short sleep between looks.
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (const deadline = Date.now() + 5000; killed.some(isSameProcess) && Date.now() < deadline; ) Atomics.wait(nap, 0, 0, 20);
  return killed.map((q) => q.pid);
}

/**
 * Every home in `dir` (itself or a folder up to three levels below it with a boxes/ folder):
 * their QEMUs are killed, and a run folder outside `dir` (the $TMPDIR fallback for a long home
 * path) removed. For a temporary folder about to be removed.
 */
export function killQemuUnder(dir: string): number[] {
  const killed: number[] = [];
  for (const home of homesIn(dir, 3)) {
    const paths = new HomePaths(home);
    const ids = fs.readdirSync(paths.boxesDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    killed.push(...killLeftoverQemu(home, ids));
    for (const id of ids) {
      const runDir = runDirFor(paths, id, { create: false });
      if (path.relative(dir, runDir).startsWith('..')) fs.rmSync(runDir, { recursive: true, force: true });
    }
  }
  return killed;
}

function homesIn(dir: string, depth: number): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const here = entries.some((e) => e.name === 'boxes' && e.isDirectory()) ? [dir] : [];
  if (depth === 0) return here;
  // Not into a home's own folders: a box folder is no home.
  return [...here, ...entries.filter((e) => e.isDirectory() && !(here.length && e.name === 'boxes')).flatMap((e) => homesIn(path.join(dir, e.name), depth - 1))];
}
