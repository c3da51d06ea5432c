// The files a start checked (chain layers, installer, seed, UEFI variables), from the check
// until QEMU runs the guest. QEMU opens each layer by path, so what it opened is judged afterwards,
// against its /proc/<pid>/fd: every checked inode must be among them, open for reading (a
// write-only one is QEMU's log or pidfile: layersNotHeld in supervisor.ts, which also names the
// window left; the kernel and initrd are not opened by path: QEMU inherits their pinned fds,
// fdOf). Two things make that judgement sound:
// - The inodes stay pinned (held open here) the whole time. A checked file deleted and
//   replaced in the window would otherwise free its inode number for reuse, and a file QEMU
//   creates or opens anyway (its pidfile, its serial log) could carry it: "QEMU holds the
//   checked inode" would pass with a host file behind the node.
// - Once QEMU has opened everything, each path must still lead, through no symlink, to the
//   pinned inode. A layer moved to a path QEMU opens for another reason (its serial log) and
//   a symlink put in its place pass the inode test, but not this one.
import fs from 'node:fs';
import { placedFile } from '../disk/confine.js';

export interface CheckedFile { path: string; dev: number; ino: number }

/** Holds every checked file open (read-only, no link followed). Throws when one is no longer the inode checked. */
export function pinChecked(files: readonly CheckedFile[]): { close: () => void; files: readonly CheckedFile[]; fdOf: (file: CheckedFile) => number } {
  const fds: number[] = [];
  const close = () => {
    for (const fd of fds.splice(0)) fs.closeSync(fd);
  };
  try {
    for (const f of files) {
      // Node opens with O_CLOEXEC: QEMU inherits only those the start passes on (the boot
      // files, as fds 3 and 4), so the layers' pins cannot count as QEMU's own opens.
      const fd = fs.openSync(f.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      fds.push(fd);
      const st = fs.fstatSync(fd);
      if (st.dev !== f.dev || st.ino !== f.ino) throw new ChangedSinceCheck([`${f.path} (replaced right after it was checked)`]);
    }
  } catch (err) {
    close();
    if (err instanceof ChangedSinceCheck) throw err;
    throw new ChangedSinceCheck([`${files[fds.length]?.path ?? '?'} (${(err as NodeJS.ErrnoException).code ?? String(err)} right after it was checked)`]);
  }
  const fdOf = (file: CheckedFile): number => {
    const fd = fds[files.indexOf(file)];
    if (fd === undefined) throw new Error(`${file.path} is not pinned`);
    return fd;
  };
  return { close, files, fdOf };
}

/** The checked files whose path no longer leads, through no symlink, to the inode checked (and pinned). */
export function changedSinceCheck(root: string, files: readonly CheckedFile[]): string[] {
  const changed: string[] = [];
  for (const f of files) {
    const now = placedFile(root, f.path);
    if (typeof now === 'string') changed.push(`${f.path} (${now})`);
    else if (now.dev !== f.dev || now.ino !== f.ino) changed.push(`${f.path} (another file lies there now)`);
  }
  return changed;
}

/** A checked file replaced between the check and QEMU's open; the start is refused. */
export class ChangedSinceCheck extends Error {
  constructor(readonly files: string[]) {
    super(files.join(', '));
  }
}
