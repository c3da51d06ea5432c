// A QEMU a test started and did not stop (the test failed first, or killed its owner on
// purpose) keeps running detached, paused at -S or not, long after its home is removed. These
// find it by what the home recorded and kill it, never by name: other people's QEMUs run on
// this machine.
import fs from 'node:fs';
import path from 'node:path';
import { HomePaths } from '../../electron/core/paths.js';
import { fingerprintOf, isSameProcess, type ProcessFingerprint } from '../../electron/core/proc.js';
import { PID_FILE, readFingerprint, runDirFor } from '../../electron/core/vm/qemu.js';

/**
 * The QEMU recorded in a run folder: the pid in qemu.json if that is still the same process
 * (pid, start time, boot id), else the pid QEMU wrote to qemu.pid itself (there is no qemu.json
 * yet when its owner died right after the spawn) if that process's command line names this
 * very pidfile.
 */
function recordedQemu(runDir: string): ProcessFingerprint | null {
  const fp = readFingerprint(runDir);
  if (fp && isSameProcess(fp)) return fp;
  const pidFile = path.join(runDir, PID_FILE);
  let pid: number;
  let argv: string[];
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
  const at = argv.indexOf('-pidfile');
  return at >= 0 && argv[at + 1] === pidFile ? fingerprintOf(pid) : null;
}

/** SIGKILLs the recorded QEMU of each box and waits (up to 5 s) until it is gone; returns the pids killed. */
export function killLeftoverQemu(home: string, boxIds: string[]): number[] {
  const paths = new HomePaths(home);
  const killed: ProcessFingerprint[] = [];
  for (const id of boxIds) {
    const qemu = recordedQemu(runDirFor(paths, id, { create: false }));
    if (!qemu) continue;
    process.kill(qemu.pid, 'SIGKILL');
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
