// An image's own kernel and initrd (direct kernel boot: images/<id>/kernel, initrd), which a
// start hands QEMU. Checked as a chain layer is (disk/confine.ts): the path the record names
// is where Boxkeep put the file, inside the home, reached through no symlink, a regular file
// with one link. A kernel swapped for a link to a host file would otherwise be booted. The
// start pins them (checked-files.ts) and hands QEMU the pinned files themselves (inherited
// fds, opened as /proc/self/fd/N: qemu.ts, inheritedPath), not their paths: QEMU reads them
// once, at machine init, so no look at its open files afterwards could tell which file a path
// had given it, and a file swapped in and back meanwhile is never read. Once QEMU is up, before
// the guest runs, each path must still lead to the inode checked.
import { storageError, type BoxkeepError } from '../../../shared/errors.js';
import type { Box, Image } from '../../../shared/types.js';
import type { HomeData } from '../deps.js';
import { placedFile } from '../disk/confine.js';
import type { CheckedFile } from './checked-files.js';

export interface BootFileProblem { what: 'kernel' | 'initrd'; path: string; problem: string }

/** The image's kernel and initrd as found: each checked file, or what is wrong with it. */
export function inspectBootFiles(core: HomeData, image: Image): { files: CheckedFile[]; problems: BootFileProblem[] } {
  const files: CheckedFile[] = [];
  const problems: BootFileProblem[] = [];
  const wanted = [
    { what: 'kernel' as const, recorded: image.kernelPath, file: core.paths.imageKernel(image.id) },
    { what: 'initrd' as const, recorded: image.initrdPath, file: core.paths.imageInitrd(image.id) },
  ];
  for (const { what, recorded, file } of wanted) {
    if (recorded === null) continue;
    const placed = recorded !== file ? `its record names ${recorded} instead` : placedFile(core.paths.root, file);
    if (typeof placed === 'string') problems.push({ what, path: file, problem: placed });
    else files.push({ path: file, dev: placed.dev, ino: placed.ino });
  }
  return { files, problems };
}

/** The kernel and initrd a start of the box boots (none: it boots from its disk), checked; throws the first problem. */
export function bootFilesFor(core: HomeData, box: Box): CheckedFile[] {
  const image = box.imageId === null ? null : core.store.getImage(box.imageId);
  if (!image) return [];
  const { files, problems } = inspectBootFiles(core, image);
  const first = problems[0];
  if (first) throw bootFileError(image, box, first);
  return files;
}

/** In chainError's words (disk/confine.ts): what, where, why, and what to do. */
export function bootFileError(image: Image, box: Box, { what, path, problem }: BootFileProblem): BoxkeepError {
  return storageError(
    `The ${what} of the image ${JSON.stringify(image.name)} is not the file Boxkeep imported (${path}): ${problem}. ` +
      `Boxkeep stopped before using it, and did not start the box ${JSON.stringify(box.name)}. ` +
      'Put back the file Boxkeep imported (from a backup) or import the image again, then run "boxkeep check" to confirm.',
  );
}
