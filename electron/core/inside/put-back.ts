// Putting a file or folder of a snapshot back into a stopped box's Now: copied inside the
// appliance from the snapshot's filesystem (mounted read-only) into the same filesystem of the
// live disk (mounted read-write; its backing layers are opened read-only by QEMU, so no
// snapshot changes). The copy lands under a temporary name in the target's folder first and
// takes the target's name by one rename inside the guest, so the guest sees the old entry or
// the new one, never half of it; a crash before the rename leaves only a ".boxkeep-put-*"
// entry beside it (guestfish exits when Boxkeep's end of its stdin closes, and shuts its VM
// down cleanly).
import path from 'node:path';
import { invalidArgument, notFound } from '../../../shared/errors.js';
import type { FileCopyResult, GuestEntry } from '../../../shared/types.js';
import { crypto } from '../builtins.js';
import { quote, type Appliance } from './appliance.js';
import { join, listTree, statOne } from './tree.js';

export async function putBack(app: Appliance, from: string, into: string, guestPath: string): Promise<FileCopyResult> {
  if (guestPath === '/') throw invalidArgument('The whole filesystem cannot be put back this way; restore the snapshot instead ("boxkeep snapshot restore").');
  const source = await statOne(app, from, guestPath);
  if (!source) throw notFound(`The snapshot has no ${guestPath}.`);
  const folder = path.posix.dirname(guestPath);
  const parent = await statOne(app, into, folder);
  if (parent?.kind !== 'dir') throw notFound(`Now has no folder ${folder} to put ${path.posix.basename(guestPath)} into; make it in the box first.`);
  const existing = await statOne(app, into, guestPath);
  const token = crypto().randomBytes(6).toString('hex');
  const staged = path.posix.join(folder, `.boxkeep-put-${token}`);
  const old = path.posix.join(folder, `.boxkeep-old-${token}`);
  await app.must(`cp-a ${quote(join(from, guestPath))} ${quote(join(into, staged))}`);
  // A folder cannot be renamed over a folder that holds anything: the old one steps aside first.
  if (existing?.kind === 'dir') await app.must(`mv ${quote(join(into, guestPath))} ${quote(join(into, old))}`);
  await app.must(`mv ${quote(join(into, staged))} ${quote(join(into, guestPath))}`);
  if (existing?.kind === 'dir') await app.must(`rm-rf ${quote(join(into, old))}`);
  await app.must('sync');
  return tally(guestPath, source, source.kind === 'dir' ? await listTree(app, into, guestPath) : []);
}

function tally(destination: string, top: GuestEntry, below: GuestEntry[]): FileCopyResult {
  const all = [top, ...below];
  return {
    destination,
    files: all.filter((e) => e.kind === 'file').length,
    folders: all.filter((e) => e.kind === 'dir').length,
    links: all.filter((e) => e.kind === 'link').length,
    bytes: all.reduce((sum, e) => sum + (e.kind === 'file' ? e.size : 0), 0),
    skipped: [],
  };
}
