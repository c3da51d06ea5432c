// The space guard: every operation that writes to the home estimates what it will write and
// asks here first, before its first write, so a full disk refuses the operation up front
// instead of failing it half-way (a half-done merge cannot be undone). It also owns the one
// setting that drives it, the disk reserve: free space no operation may eat into.
import fs from 'node:fs';
import { humanBytes } from '../../shared/bytes.js';
import { BoxkeepError, invalidArgument } from '../../shared/errors.js';
import type { DiskSpace, Settings } from '../../shared/types.js';
import type { HomeData } from './deps.js';
import { dataBytes } from './disk/allocated.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RESERVE_KEY = 'disk-reserve';

/**
 * A new empty overlay (snapshot, restore, box create): header, refcount table and block, and
 * an L1 table of 8 bytes per 512 MiB of virtual disk: about 200 KiB up to a 16 TiB disk.
 * With the intent record and the row it stays well under this.
 */
export const OVERLAY_BYTES = MiB;

/**
 * A snapshot with memory writes at most the guest's RAM (untouched pages go as a few bytes
 * each) plus the device state, well under a MiB for the boxes Boxkeep makes.
 */
export function memoryStateBytes(memoryMib: number): number {
  return memoryMib * MiB + MiB;
}

/**
 * Writing `data` bytes of clusters into a qcow2 also allocates metadata: an L2 entry (8 bytes)
 * and a refcount (2 bytes) per 64 KiB cluster, in 64 KiB tables: data/4096 covers both with
 * room to spare, plus a table's worth for a file that had none.
 */
export function withMetadata(data: number): number {
  return data === 0 ? 0 : data + Math.ceil(data / 4096) + MiB;
}

/** The larger of 2 GiB and 5 % of the filesystem. */
export function defaultReserve(total: number): number {
  return Math.max(2 * GiB, Math.ceil(total * 0.05));
}

export function diskSpace(core: HomeData): DiskSpace {
  const st = fs.statfsSync(core.paths.root);
  const total = st.blocks * st.bsize;
  const setting = core.store.getSetting(RESERVE_KEY);
  // What the trash has still to free is as good as free: it is, a moment later.
  return { free: st.bavail * st.bsize + (core.trash?.pendingBytes ?? 0), total, reserve: setting === null ? defaultReserve(total) : Number(setting) };
}

export function getSettings(core: HomeData): Settings {
  const setting = core.store.getSetting(RESERVE_KEY);
  return { diskReserve: setting === null ? null : Number(setting), space: diskSpace(core) };
}

/**
 * 0 is allowed: the guard then only refuses what would not fit at all. A reserve larger than
 * the whole filesystem would refuse every write, so it is a mistake, not a setting.
 */
export function updateSettings(core: HomeData, input: { diskReserve?: number | 'default' }): Settings {
  if (input.diskReserve !== undefined) {
    const { total } = diskSpace(core);
    if (input.diskReserve !== 'default' && input.diskReserve > total) {
      throw invalidArgument(`A disk reserve of ${humanBytes(input.diskReserve)} is larger than the whole filesystem holding the home (${humanBytes(total)}); every change would be refused. Choose less, or 0 for no reserve.`);
    }
    core.store.setSetting(RESERVE_KEY, input.diskReserve === 'default' ? null : String(input.diskReserve));
  }
  return getSettings(core);
}

/** How far `needed` more bytes would take the disk below the reserve; null when it fits. */
export function shortfall(core: HomeData, needed: number): { space: DiskSpace; missing: number } | null {
  const space = diskSpace(core);
  const missing = needed + space.reserve - space.free;
  return needed > 0 && missing > 0 ? { space, missing } : null;
}

/** The words every refusal and every "waiting for space" report uses. */
export function spaceMessage(what: string, needed: number, space: DiskSpace, missing: number): string {
  const state = needed > space.free ? `is full (${humanBytes(space.free)} free)` : `has ${humanBytes(space.free)} free`;
  return `${what} needs about ${humanBytes(needed)} of disk space, but the disk holding the Boxkeep home ${state} ` +
    `and Boxkeep keeps ${humanBytes(space.reserve)} in reserve. Free at least ${humanBytes(missing)} (delete snapshots or boxes you no longer need, ` +
    `or other files on that disk), or lower the reserve with "boxkeep settings --disk-reserve SIZE".`;
}

/**
 * The guard: throws Storage (the code every disk-full error has, whether foreseen here or hit
 * by qemu-img) when writing `needed` bytes would leave less than the reserve free.
 */
export function requireSpace(core: HomeData, what: string, needed: number): void {
  const short = shortfall(core, needed);
  if (short) throw new BoxkeepError('Storage', spaceMessage(what, needed, short.space, short.missing));
}

/**
 * What a snapshot removal writes, from the allocation map of the side the merge copies:
 * commit writes the dependent's own clusters into the removed snapshot's file; rebase (and a
 * live block-stream) writes the removed snapshot's own clusters into each dependent, at most.
 * Deleting a leaf writes nothing.
 */
export function removalNeeds(plan: { mode: 'delete' | 'commit' | 'rebase'; snapshotPath: string; dependents: { path: string }[] }): number {
  if (plan.mode === 'delete' || plan.dependents.length === 0) return 0;
  if (plan.mode === 'commit') return withMetadata(dataBytes(plan.dependents[0]!.path));
  return plan.dependents.length * withMetadata(dataBytes(plan.snapshotPath));
}

/** qemu-img and Node both say ENOSPC in their own words. */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === 'ENOSPC' || /No space left on device|ENOSPC/i.test(String(e?.message ?? err));
}
