// Recovery of an interrupted put-back (put-back.ts): the live disk's filesystem says how far
// it got. Before the last rename the put is undone (the staged copy may be partial: removed;
// a folder that stepped aside goes back); after it, finished (the old folder removed). Either
// way Now holds the old entry or the new one, whole, and no staging entry is left. Snapshots
// are never touched: only the live disk is opened read-write.
import { Appliance, quote } from './appliance.js';
import type { HomeData } from '../deps.js';
import type { ReportBuilder } from '../recovery/report.js';
import { verifyBoxChain } from '../snapshots/box-chain.js';
import { findFilesystems, mount } from './filesystems.js';
import { putNames, type FilePutIntent } from './intents.js';
import { join, statOne } from './tree.js';

export type PutOutcome = 'undone' | 'finished' | 'untouched';

/** Settles a put on a filesystem of Now mounted read-write at `into`. */
export async function settlePut(app: Appliance, into: string, intent: Pick<FilePutIntent, 'path' | 'token'>): Promise<PutOutcome> {
  const { staged, old } = putNames(intent.path, intent.token);
  // One at a time: the appliance answers one batch at a time.
  const target = await statOne(app, into, intent.path);
  const copy = await statOne(app, into, staged);
  const aside = await statOne(app, into, old);
  let outcome: PutOutcome = 'untouched';
  if (aside && !target) {
    // Stepped aside, and the copy never took its name: the old folder goes back.
    await app.must(`mv ${quote(join(into, old))} ${quote(join(into, intent.path))}`);
    outcome = 'undone';
  } else if (aside && !copy) {
    // The copy took the name: only removing the old folder was left.
    await app.must(`rm-rf ${quote(join(into, old))}`);
    outcome = 'finished';
  }
  if (copy) {
    await app.must(`rm-rf ${quote(join(into, staged))}`);
    outcome = 'undone';
  }
  await app.must('sync');
  return outcome;
}

/** Recovery: one appliance on the live disk alone; the box is stopped (a start is refused while the record is there). */
export async function settleFilePut(core: HomeData, intent: FilePutIntent, report: ReportBuilder): Promise<boolean> {
  const box = core.store.getBox(intent.boxId);
  if (!box) return true;
  const what = `Putting ${intent.path} back into the box ${JSON.stringify(box.name)}`;
  let app: Appliance | null = null;
  try {
    verifyBoxChain(core, box, 'live');
    app = await launchWhenFree(core.paths.liveDisk(box.id));
    const fs = (await findFilesystems(app)).find((f) => f.device === intent.filesystem);
    if (!fs) throw new Error(`its live disk has no filesystem ${intent.filesystem} any more`);
    await mount(app, fs, '/n', true);
    const outcome = await settlePut(app, '/n', intent);
    await app.must('umount-all');
    report.repaired(box.id, {
      finished: `${what} was interrupted after it had replaced the one in Now; it was finished.`,
      undone: `${what} was interrupted before it replaced the one in Now; Now is as it was (the unfinished copy was removed).`,
      untouched: `${what} was interrupted; nothing was left half done (Now holds ${intent.path} whole, as it was or as put back).`,
    }[outcome]);
    return true;
  } catch (err) {
    report.kept(box.id, `${what} was interrupted, and Boxkeep could not look at Now to settle it (${(err as Error).message}); the box accepts no changes until it is settled. Boxkeep tries again at its next start, or run "boxkeep recover".`);
    return false;
  } finally {
    await app?.close();
  }
}

/**
 * The killed owner's guestfish shuts its appliance down by itself once its stdin closes; until
 * its QEMU has exited it holds the live disk's lock, and a recovery right after a crash (the
 * app restarted at once) would be refused the disk. Waits a little for it.
 */
async function launchWhenFree(disk: string): Promise<Appliance> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await Appliance.launch([{ path: disk, readonly: false }], { accel: 'unknown' });
    } catch (err) {
      if (attempt >= 4 || !/lock/i.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}
