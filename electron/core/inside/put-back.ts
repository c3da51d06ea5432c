// Putting a file or folder of a snapshot back into a stopped box's Now: copied inside the
// appliance from the snapshot's filesystem (mounted read-only) into the same filesystem of the
// live disk (mounted read-write; its backing layers are opened read-only by QEMU, so no
// snapshot changes). The copy lands under a temporary name in the target's folder first and
// takes the target's name by one rename inside the guest, so the guest sees the old entry or
// the new one, never half of it. A folder first steps aside (".boxkeep-old-*"): a crash there
// leaves Now without the target until recovery (put-settle.ts) puts it back; the caller
// journals the put (intents.ts: file-put) and a crash point follows each step. guestfish exits
// when Boxkeep's end of its stdin closes, and shuts its VM down cleanly (libguestfs's autosync).
import path from 'node:path';
import { invalidArgument, notFound } from '../../../shared/errors.js';
import type { FileCopyResult, GuestEntry } from '../../../shared/types.js';
import { quote, type Appliance } from './appliance.js';
import { filePut, putNames } from './intents.js';
import { join, listTree, statOne } from './tree.js';

/** `token` names the staging entries (the intent records it: putNames). */
export async function putBack(app: Appliance, from: string, into: string, guestPath: string, token: string): Promise<FileCopyResult> {
  if (guestPath === '/') throw invalidArgument('The whole filesystem cannot be put back this way; restore the snapshot instead ("boxkeep snapshot restore").');
  const source = await statOne(app, from, guestPath);
  if (!source) throw notFound(`The snapshot has no ${guestPath}.`);
  const folder = path.posix.dirname(guestPath);
  const parent = await statOne(app, into, folder);
  if (parent?.kind !== 'dir') throw notFound(`Now has no folder ${folder} to put ${path.posix.basename(guestPath)} into; make it in the box first.`);
  const existing = await statOne(app, into, guestPath);
  const { staged, old } = putNames(guestPath, token);
  await app.must(`cp-a ${quote(join(from, guestPath))} ${quote(join(into, staged))}`);
  // Each step synced before its crash point: what recovery finds on the disk is how far the put got.
  await app.must('sync');
  filePut.crash('after-copy');
  // A folder cannot be renamed over a folder that holds anything: the old one steps aside first.
  if (existing?.kind === 'dir') {
    await app.must(`mv ${quote(join(into, guestPath))} ${quote(join(into, old))}`);
    await app.must('sync');
    filePut.crash('after-aside');
  }
  await app.must(`mv ${quote(join(into, staged))} ${quote(join(into, guestPath))}`);
  await app.must('sync');
  filePut.crash('after-swap');
  if (existing?.kind === 'dir') await app.must(`rm-rf ${quote(join(into, old))}`);
  await app.must('sync');
  filePut.crash('after-cleanup');
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
