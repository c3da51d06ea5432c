// `boxkeep check [box]`: every layer of every chain, against the confinement rule and the
// facts recorded when it was frozen (disk/confine.ts), then `qemu-img check` of its metadata.
// Reads only; it says which snapshots are damaged and leaves repairing to the user.
import { isBusy, type Box, type CheckReport, type CheckedLayer } from '../../shared/types.js';
import type { BoxService } from './boxes/service.js';
import type { HomeData } from './deps.js';
import type { KeyedMutex } from './mutex.js';
import { check as qemuImgCheck } from './disk/qemu-img.js';
import { boxProblems } from './snapshots/box-chain.js';
import { elapsedMs } from './logger.js';
import { checkVars, findOvmf } from './vm/firmware.js';
import { inspectBootFiles } from './vm/boot-files.js';

/** What the check needs: the home, box lookup, and the box queues (it reads between operations). */
export type CheckDeps = HomeData & { locks: KeyedMutex; boxes: Pick<BoxService, 'resolve'> };

export async function checkHome(core: CheckDeps, boxRef?: string): Promise<CheckReport> {
  const started = performance.now();
  const boxes = boxRef ? [core.boxes.resolve(boxRef)] : core.store.listBoxes();
  const report: CheckReport = { ok: true, damaged: 0, boxes: [], elapsedMs: 0 };
  for (const box of boxes) {
    // On the box's queue: a merge in progress would look like damage halfway through.
    const layers = await core.locks.run(box.id, () => checkBox(core, core.store.getBox(box.id) ?? box));
    const damaged = layers.filter((l) => !l.ok).length;
    report.damaged += damaged;
    report.boxes.push({ boxId: box.id, box: box.name, ok: damaged === 0, layers });
  }
  report.ok = report.damaged === 0;
  report.elapsedMs = elapsedMs(started);
  return report;
}

async function checkBox(core: HomeData, box: Box): Promise<CheckedLayer[]> {
  const { entries, problems } = boxProblems(core, box);
  const problemAt = new Map(problems.map((p) => [p.index, p.problem]));
  const running = isBusy(box.status);
  const out: CheckedLayer[] = [];
  for (const [i, entry] of entries.entries()) {
    const found: string[] = [];
    const confined = problemAt.get(i);
    if (confined) found.push(confined);
    // Only a file that is where and what it should be goes to qemu-img, and alone (layerOnly):
    // its header's backing name is not followed. The live disk of a running box changes under
    // the check, so its metadata is QEMU's to keep consistent.
    else if (!(running && entry.kind === 'live')) found.push(...(await metadataProblems(entry.layer.path, running)));
    // A UEFI box's state is its disk and its variables: the live ones with Now, each copy with its snapshot.
    const vars = entry.kind === 'image' ? null : varsProblem(core, box, entry.snapshotId);
    if (vars) found.push(vars);
    // The image's kernel and initrd, which a start hands QEMU by path: with the image's layer.
    if (entry.kind === 'image') found.push(...bootProblems(core, box));
    out.push({
      kind: entry.kind, snapshotId: entry.snapshotId, name: nameOf(core, box, entry.kind, entry.snapshotId),
      path: entry.layer.path, ok: found.length === 0, problems: found,
    });
  }
  // A linked clone's tree ends on its source's snapshot, but it boots its image's kernel too.
  const image = box.imageId === null ? null : core.store.getImage(box.imageId);
  if (image && !entries.some((e) => e.kind === 'image')) {
    const found = bootProblems(core, box);
    if (found.length > 0) out.push({ kind: 'image', snapshotId: null, name: image.name, path: image.path, ok: false, problems: found });
  }
  return out;
}

function bootProblems(core: HomeData, box: Box): string[] {
  const image = box.imageId === null ? null : core.store.getImage(box.imageId);
  if (!image) return [];
  return inspectBootFiles(core, image).problems.map((p) => `its ${p.what} (${p.path}): ${p.problem}`);
}

async function metadataProblems(file: string, shareLocked: boolean): Promise<string[]> {
  try {
    const r = await qemuImgCheck(file, { shareLocked, layerOnly: true });
    const found: string[] = [];
    if (r.corruptions > 0) found.push(`qemu-img check found ${r.corruptions} corrupted cluster${r.corruptions === 1 ? '' : 's'}`);
    if (!r.ok && r.corruptions === 0 && r.leaks === 0) found.push(`qemu-img check reported errors: ${r.output.split('\n').at(-1)}`);
    // Leaked clusters only waste space; they are not damage.
    return found;
  } catch (err) {
    return [`qemu-img could not check it: ${(err as Error).message}`];
  }
}

function varsProblem(core: HomeData, box: Box, snapshotId: string | null): string | null {
  if (box.firmware !== 'uefi') return null;
  const file = snapshotId ? core.paths.snapshotEfiVars(box.id, snapshotId) : core.paths.efiVars(box.id);
  let size: number;
  try {
    size = findOvmf().varsSize;
  } catch (err) {
    return `its UEFI variables (${file}) cannot be checked: ${(err as Error).message}`;
  }
  const found = checkVars(core.paths.root, file, size);
  return typeof found === 'string' ? `its UEFI variables (${file}): ${found}` : null;
}

function nameOf(core: HomeData, box: Box, kind: CheckedLayer['kind'], snapshotId: string | null): string {
  if (kind === 'live') return 'Now';
  if (kind === 'image') return (box.imageId && core.store.getImage(box.imageId)?.name) ?? box.imageId ?? 'image';
  return core.store.getSnapshot(snapshotId!)?.name ?? snapshotId!;
}
