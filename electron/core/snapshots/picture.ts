// Snapshot pictures, as VirtualBox keeps them: a live snapshot of a box with a screen keeps a
// small PNG of that screen beside its disk, snapshots/<id>/screen.png. It lives in the
// snapshot's folder, so it goes wherever the folder goes: a rolled-back snapshot, a removed
// one or a discarded intent removes the folder whole; a merge moves only disk files and
// leaves each surviving snapshot's picture in its own folder.
//
// QEMU's PNG is shrunk to PICTURE_WIDTH: a text console is 720 px wide, a desktop 1024 or
// more, and a tree shows a picture per snapshot on hover; at 320 px one is a few KB to a few
// tens of KB whatever the guest shows, and still recognisable. Own code (vm/png.ts) over
// node:zlib rather than a package: QEMU writes one simple kind of PNG.
import { notFound, storageError } from '../../../shared/errors.js';
import type { Box, Snapshot, SnapshotPicture } from '../../../shared/types.js';
import type { Logger } from '../logger.js';
import { readRegularFile, writeFileDurable } from '../fsutil.js';
import { picturePath } from '../paths.js';
import { decodePng, encodePng, pngSize, shrink } from '../vm/png.js';
import { MAX_PICTURE_SOURCE_BYTES, MAX_SCREENSHOT_BYTES, screendump } from '../vm/screen.js';
import type { QemuSession } from '../vm/supervisor.js';

export const PICTURE_WIDTH = 320;

/**
 * Takes and keeps the picture; never throws: a snapshot must not fail for want of a picture.
 * Called inside the snapshot's intent, with its folder made: writeFileDurable writes a
 * temporary file and renames it, so a crash leaves no picture or a whole one.
 */
export async function keepPicture(logger: Logger, session: QemuSession, box: Box, snapshot: Snapshot): Promise<void> {
  if (!session.display) return;
  const started = performance.now();
  try {
    const dump = await screendump(session.qmp, session.runDir, `the box ${JSON.stringify(box.name)}`, MAX_PICTURE_SOURCE_BYTES);
    const small = encodePng(shrink(decodePng(dump.png), PICTURE_WIDTH));
    if (small.length > MAX_SCREENSHOT_BYTES) throw new Error(`the picture would be ${small.length} bytes`);
    writeFileDurable(picturePath(snapshot.diskPath), small);
    logger.info('snapshot picture kept', { op: 'live-create', boxId: box.id, snapshotId: snapshot.id, bytes: small.length, elapsed_ms: Math.round(performance.now() - started) });
  } catch (err) {
    logger.warn('snapshot picture not kept', { op: 'live-create', boxId: box.id, snapshotId: snapshot.id, error: String((err as Error).message ?? err) });
  }
}

/**
 * The snapshot's picture; NotFound when it has none (taken while stopped, or without a screen).
 * Only the regular file Boxkeep wrote is read (the home may be edited by hand): a link, a FIFO
 * or a file too large to be one of its pictures is refused, never followed, waited on or loaded.
 */
export function readPicture(box: Box, snapshot: Snapshot): SnapshotPicture {
  const file = picturePath(snapshot.diskPath);
  const what = `The picture of the snapshot ${JSON.stringify(snapshot.name)} of the box ${JSON.stringify(box.name)} (${file})`;
  let read: Buffer | { what: string };
  try {
    read = readRegularFile(file, MAX_SCREENSHOT_BYTES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(`The snapshot ${JSON.stringify(snapshot.name)} of the box ${JSON.stringify(box.name)} has no picture: only snapshots taken while the box ran with a screen have one.`);
    if (code === 'ELOOP') read = { what: 'a symbolic link' };
    else throw storageError(`${what} could not be read: ${(err as Error).message}.`, err);
  }
  if (!Buffer.isBuffer(read)) throw storageError(`${what} is ${read.what}, not the picture Boxkeep wrote; it was not read. Remove it.`);
  const size = pngSize(read);
  if (!size) throw notFound(`The picture of the snapshot ${JSON.stringify(snapshot.name)} is damaged (not a PNG).`);
  return { snapshotId: snapshot.id, ...size, png: read.toString('base64') };
}
