// Looking inside snapshots: how much differs between two states of a box's disk (from the
// qcow2 layers alone, in-process), which files differ, a snapshot's folders, and taking a file
// back out. Every state is read through the layers Boxkeep froze, checked first like any chain
// it touches; a running box's Now is never opened (QEMU is writing it): compare a fresh
// snapshot instead. Snapshots never change, so a file comparison of two snapshots is kept as a
// file in the first one's folder and goes with it. Appliances reading only snapshots are kept
// warm a short while for the next look (warm.ts).
import path from 'node:path';
import { invalidState, notFound } from '../../../shared/errors.js';
import type { ChannelInput } from '../../../shared/channels.js';
import { isBusy, type Box, type FileCopyResult, type FilesystemChanges, type GuestFolder, type Snapshot, type SnapshotDiff } from '../../../shared/types.js';
import type { BoxService } from '../boxes/service.js';
import type { Effects, HomeData } from '../deps.js';
import type { Tasks } from '../tasks.js';
import type { VmControl } from '../vm/control.js';
import { mappedRanges, unionBytes } from '../disk/allocated.js';
import { elapsedMs } from '../logger.js';
import { verifyBoxChain, type ChainTop } from '../snapshots/box-chain.js';
import { Appliance } from './appliance.js';
import { WARM_DEFAULTS, WarmAppliances } from './warm.js';
import { readCache, writeCache } from './cache.js';
import { byPath, compareListings, differingContent } from './compare.js';
import { copyOut } from './copy-out.js';
import { putBack } from './put-back.js';
import { settlePut } from './put-settle.js';
import { filePut, type FilePutIntent } from './intents.js';
import { newId } from '../ids.js';
import { clearIntent } from '../journal.js';
import { crypto } from '../builtins.js';
import { assertNoUnfinishedWork } from '../snapshots/waiting-merge.js';
import { chooseFilesystem, findFilesystems, hasFiles, mount, noFilesNote } from './filesystems.js';
import { listFolder, listTree, statOne } from './tree.js';

export type InsideDeps = HomeData & Effects & {
  tasks: Tasks;
  boxes: Pick<BoxService, 'resolve'>;
  vms: Pick<VmControl, 'accelerator'>;
};

/** A state of the box's disk: a snapshot, or Now (its live disk). */
type State = { snapshot: Snapshot } | { now: true };

const NOW = 'now';
/** The kind of queued work that may share a box's warm appliances (any other lets go of them first). */
const INSIDE = 'inside';

export interface InsideOptions {
  /** How long an appliance is kept warm after a look inside (0: closed at once). */
  idleMs?: number;
}

export class InsideService {
  private readonly warm: WarmAppliances;

  constructor(private readonly core: InsideDeps, opts: InsideOptions = {}) {
    this.warm = new WarmAppliances({ ...WARM_DEFAULTS, ...(opts.idleMs !== undefined && { idleMs: opts.idleMs }), launch: (disks) => Appliance.launch(disks, { accel: this.core.vms.accelerator() }) });
    core.locks.beforeEach((key, kind) => (kind === INSIDE ? Promise.resolve() : this.warm.closeBox(key)));
  }

  /** Closes the warm appliances (on quit). */
  close(): Promise<void> {
    return this.warm.close();
  }


  /** Changed bytes at once; with files, the changed files too (one appliance for both disks). */
  diff(input: ChannelInput<'snapshots:diff'>): Promise<SnapshotDiff> {
    const box = this.core.boxes.resolve(input.box);
    return this.core.locks.run(box.id, async () => {
      const fresh = this.core.store.getBox(box.id)!;
      const from = this.resolve(fresh, input.from);
      const to = this.state(fresh, input.to);
      const files = input.files ?? false;
      const result: SnapshotDiff = {
        boxId: fresh.id,
        from: { id: from.id, name: from.name },
        to: 'now' in to ? { id: null, name: 'Now' } : { id: to.snapshot.id, name: to.snapshot.name },
        changedBytes: this.changedBytes(fresh, { snapshot: from }, to),
        files: null,
        filesNote: null,
        cached: false,
      };
      if (!files) return result;
      const cache = 'snapshot' in to ? path.join(path.dirname(from.diskPath), `changes-to-${to.snapshot.id}.json`) : null;
      const kept = cache ? readCache(cache) : null;
      if (kept) return { ...result, ...kept, cached: true };
      const compared = await this.core.tasks.run('snapshot-diff', fresh.id, `Comparing ${from.name} with ${result.to.name}`, (task) =>
        this.compareFiles(fresh, from, to, (f) => task.progress(f)));
      if (cache) writeCache(cache, compared);
      return { ...result, ...compared };
    }, INSIDE);
  }

  /** One folder (or file) of a snapshot's filesystem. */
  files(input: ChannelInput<'snapshots:files'>): Promise<GuestFolder> {
    return this.withSnapshotMounted(input.box, input.snapshot, input.filesystem, async (app, box, snapshot, fsName, all) => {
      const guestPath = normalise(input.path ?? '/');
      const entry = await statOne(app, '/m', guestPath);
      if (!entry) throw notFound(`The snapshot ${JSON.stringify(snapshot.name)} has no ${guestPath} on ${fsName}.`);
      const entries = entry.kind === 'dir' ? await listFolder(app, '/m', guestPath) : [];
      return { boxId: box.id, snapshotId: snapshot.id, filesystem: fsName, filesystems: all, entry, entries };
    });
  }

  /** Copies a file or folder of a snapshot to a new path on the host. */
  getFile(input: ChannelInput<'snapshots:getFile'>): Promise<FileCopyResult> {
    return this.withSnapshotMounted(input.box, input.snapshot, input.filesystem, async (app, _box, snapshot, fsName) => {
      const guestPath = normalise(input.path);
      const entry = await statOne(app, '/m', guestPath);
      if (!entry) throw notFound(`The snapshot ${JSON.stringify(snapshot.name)} has no ${guestPath} on ${fsName}.`);
      return copyOut(app, '/m', entry, input.destination);
    });
  }

  /** Copies a file or folder of a snapshot into the same place of a stopped box's Now. */
  putFile(input: ChannelInput<'snapshots:putFile'>): Promise<FileCopyResult> {
    const box = this.core.boxes.resolve(input.box);
    return this.core.locks.run(box.id, async () => {
      const fresh = this.core.store.getBox(box.id)!;
      if (isBusy(fresh.status)) {
        throw invalidState(`The box ${JSON.stringify(fresh.name)} is ${fresh.status}; a file is put back only into a stopped box (its disk is not being written). Stop it first ("boxkeep box stop ${fresh.name}").`);
      }
      assertNoUnfinishedWork(this.core, fresh);
      const snapshot = this.resolve(fresh, input.snapshot);
      verifyBoxChain(this.core, fresh, { snapshotId: snapshot.id });
      verifyBoxChain(this.core, fresh, 'live');
      const started = performance.now();
      const disks = [{ path: snapshot.diskPath, readonly: true }, { path: fresh.liveDiskPath, readonly: false }];
      return this.warm.use(fresh.id, disks, async (app) => {
        const all = await findFilesystems(app, 2);
        const source = chooseFilesystem(all.filter((f) => f.disk === 0), input.filesystem);
        const target = all.find((f) => f.disk === 1 && f.key === source.key && f.type === source.type);
        if (!target) throw notFound(`Now has no ${source.type} filesystem where the snapshot has ${source.device}; nothing was changed.`);
        await mount(app, source, '/s');
        await mount(app, target, '/n', true);
        const intent: FilePutIntent = { id: newId(), op: 'file-put', startedAt: Date.now(), boxId: fresh.id, snapshotId: snapshot.id, filesystem: target.key, path: normalise(input.path), token: crypto().randomBytes(6).toString('hex') };
        const journal = this.core.paths.boxJournal(fresh.id);
        const result = await filePut.journaled(journal, intent, async () => {
          try {
            return await putBack(app, '/s', '/n', intent.path, intent.token);
          } catch (err) {
            // Undone at once where the appliance still answers; else the record stays for recovery.
            if (await settlePut(app, '/n', intent).then(() => true, () => false)) clearIntent(journal, intent.id);
            throw err;
          }
        });
        await app.must('umount-all');
        this.core.logger.info('file put back', { op: 'file-put', boxId: fresh.id, snapshotId: snapshot.id, elapsed_ms: elapsedMs(started) });
        return result;
      }).finally(() => this.core.events.emit('boxes:changed', { boxId: fresh.id }));
    }, INSIDE);
  }

  private withSnapshotMounted<T>(boxRef: string, snapshotRef: string, asked: string | undefined,
    work: (app: Appliance, box: Box, snapshot: Snapshot, fsName: string, all: string[]) => Promise<T>): Promise<T> {
    const box = this.core.boxes.resolve(boxRef);
    return this.core.locks.run(box.id, async () => {
      const fresh = this.core.store.getBox(box.id)!;
      const snapshot = this.resolve(fresh, snapshotRef);
      verifyBoxChain(this.core, fresh, { snapshotId: snapshot.id });
      return this.warm.use(fresh.id, [{ path: snapshot.diskPath, readonly: true }], async (app) => {
        const all = await findFilesystems(app, 1);
        const chosen = chooseFilesystem(all, asked);
        await mount(app, chosen, '/m');
        return work(app, fresh, snapshot, chosen.device, all.map((f) => `${f.device}: ${f.type}`));
      });
    }, INSIDE);
  }

  private resolve(box: Box, ref: string): Snapshot {
    const s = this.core.store.findSnapshot(box.id, ref);
    if (!s) throw notFound(`The box ${JSON.stringify(box.name)} has no snapshot called ${JSON.stringify(ref)}. See its snapshots with "boxkeep snapshot list ${box.name}".`);
    return s;
  }

  /** The second state: a snapshot, or Now, which only a box QEMU does not hold may show. */
  private state(box: Box, ref: string | undefined): State {
    if (ref !== undefined && ref !== NOW) return { snapshot: this.resolve(box, ref) };
    if (isBusy(box.status)) {
      throw invalidState(`The box ${JSON.stringify(box.name)} is ${box.status}: its disk is being written, so Boxkeep compares it only through a snapshot. Take one ("boxkeep snapshot create ${box.name}") and compare with that, or stop the box first.`);
    }
    return { now: true };
  }

  /**
   * The union of the clusters mapped by the layers between the two states: each snapshot's
   * layer holds exactly what was written between its parent and it, the live disk what was
   * written since the current snapshot. Layers up to the closest common ancestor are shared.
   */
  private changedBytes(box: Box, a: State, b: State): number {
    const lineage = (s: State): string[] => {
      const ids: string[] = 'now' in s ? [NOW] : [];
      let id: string | null = 'now' in s ? box.currentSnapshotId : s.snapshot.id;
      while (id) {
        ids.push(id);
        id = this.core.store.getSnapshot(id)?.parentId ?? null;
      }
      return ids;
    };
    const la = lineage(a);
    const lb = lineage(b);
    const inB = new Set(lb);
    const common = la.find((id) => inB.has(id)) ?? null;
    const above = (l: string[]) => (common === null ? l : l.slice(0, l.indexOf(common)));
    const tops: ChainTop[] = ['now' in a ? 'live' : { snapshotId: a.snapshot.id }, 'now' in b ? 'live' : { snapshotId: b.snapshot.id }];
    for (const top of tops) verifyBoxChain(this.core, box, top);
    const files = [...above(la), ...above(lb)].map((id) => (id === NOW ? box.liveDiskPath : this.core.store.getSnapshot(id)!.diskPath));
    return unionBytes(files.map(mappedRanges));
  }

  private async compareFiles(box: Box, from: Snapshot, to: State, progress: (fraction: number) => void): Promise<{ files: FilesystemChanges[]; filesNote: string | null }> {
    const started = performance.now();
    const second = 'now' in to ? box.liveDiskPath : to.snapshot.diskPath;
    // Read-only, both: the appliance writes into a throwaway overlay of its own, never into a layer.
    const disks = [{ path: from.diskPath, readonly: true }, { path: second, readonly: true }];
    return this.warm.use(box.id, disks, (app) => this.compareIn(app, box, from, to, progress, started));
  }

  private async compareIn(app: Appliance, box: Box, from: Snapshot, to: State, progress: (fraction: number) => void, started: number): Promise<{ files: FilesystemChanges[]; filesNote: string | null }> {
    progress(0.3);
    const all = await findFilesystems(app, 2);
    const onA = all.filter((f) => f.disk === 0);
    const onB = all.filter((f) => f.disk === 1);
    const filesNote = noFilesNote(onA.length ? onA : onB);
    const keys = [...new Set([...onA, ...onB].filter(hasFiles).map((f) => f.key))].sort();
    const out: FilesystemChanges[] = [];
    for (const [i, key] of keys.entries()) {
      const a = onA.find((f) => f.key === key && hasFiles(f));
      const b = onB.find((f) => f.key === key && hasFiles(f));
      const type = (b ?? a)!.type;
      if (!a || !b || a.type !== b.type) {
        out.push({ filesystem: key, type, changes: [], problem: !a ? `The filesystem is new in ${'now' in to ? 'Now' : to.snapshot.name}.` : !b ? 'The filesystem is gone.' : `The filesystem changed type (${a.type} → ${b.type}).` });
        continue;
      }
      try {
        await mount(app, a, `/a${i}`);
        await mount(app, b, `/b${i}`);
        const before = await listTree(app, `/a${i}`);
        const after = await listTree(app, `/b${i}`);
        const { changes, toHash } = compareListings(before, after);
        const differ = new Set(await differingContent(app, `/a${i}`, `/b${i}`, toHash));
        for (const p of toHash) {
          if (!differ.has(p)) continue;
          const entry = after.find((e) => e.path === p)!;
          changes.push({ path: p, change: 'modified', what: ['content'], before: before.find((e) => e.path === p)!, after: entry });
        }
        out.push({ filesystem: key, type, changes: byPath(changes), problem: null });
      } catch (err) {
        out.push({ filesystem: key, type, changes: [], problem: (err as Error).message });
      }
      progress(0.3 + (0.7 * (i + 1)) / keys.length);
    }
    this.core.logger.info('snapshot files compared', { op: 'snapshot-diff', boxId: box.id, snapshotId: from.id, elapsed_ms: elapsedMs(started) });
    return { files: out, filesNote };
  }
}

/** A guest path as given: absolute, without "." or ".." (resolved as text, inside the guest). */
function normalise(p: string): string {
  return path.posix.resolve('/', p);
}
