// Export: a box (its whole tree, with each snapshot's picture, UEFI variables and memory
// state where they exist) or one snapshot flattened, as one .boxkeep file. The members are
// read twice: once to hash them for the manifest (which comes first, so an import can check
// every member while it copies), then to write them. Each qcow2 layer goes out with its
// backing name blanked: a name is a path in this home, meaningless elsewhere, and an import
// refuses any layer that names one (it rebuilds the chain from the manifest).
import fs from 'node:fs';
import path from 'node:path';
import { alreadyExists, invalidArgument, invalidState, notFound, storageError } from '../../../shared/errors.js';
import { formatForward } from '../../../shared/forwards.js';
import { isBusy, type Box, type Snapshot } from '../../../shared/types.js';
import { crypto, stream } from '../builtins.js';
import type { HomeData } from '../deps.js';
import { PREFIX_BYTES } from '../disk/qcow2.js';
import { emptyQcow2 } from '../disk/qcow2-create.js';
import { chainError } from '../disk/confine.js';
import { convert } from '../disk/qemu-img.js';
import { fsyncDir, noRoomForRecord, openRegularFile } from '../fsutil.js';
import { newId } from '../ids.js';
import { clearIntent, writeIntent } from '../journal.js';
import { processStartTime } from '../proc.js';
import { boxProblems, verifyBoxChain } from '../snapshots/box-chain.js';
import type { TaskHandle } from '../tasks.js';
import { compressor, type Compression } from './compress.js';
import { boxExport, type BoxExportIntent } from './intents.js';
import { FORMAT, FORMAT_VERSION, MANIFEST_NAME, SNAPSHOT_EXTRAS, type Manifest, type SnapshotExtra } from './manifest.js';
import { memberHeader, padding, trailer } from './tar.js';

const CHUNK = 1024 * 1024;
/** The name of a flattened disk's scratch file in the box's folder; recovery removes one an export killed left. */
export const EXPORT_SCRATCH = /^\.export-[0-9a-f]{8}\.qcow2$/;

/** One member to write: a file of the home (a layer has its backing name blanked) or bytes made here. */
interface Source {
  name: string;
  file?: string;
  bytes?: Buffer;
  layer: boolean;
}

export interface ExportPlan {
  manifest: Omit<Manifest, 'files'>;
  sources: Source[];
  /** A flattened snapshot's temporary disk, removed when the export ends. */
  scratch: string | null;
}

/**
 * The whole box: its image (if any), every snapshot, the live disk. The chain is checked first.
 * A linked clone's tree stands on another box's snapshot, which no archive member would carry:
 * what that snapshot reads (its chain down to the image) is flattened into the archive's image.
 */
export async function planBox(core: HomeData, box: Box, task: TaskHandle): Promise<ExportPlan> {
  if (isBusy(box.status)) {
    throw invalidState(`The box ${JSON.stringify(box.name)} is ${box.status}; stop it first ("boxkeep box stop ${box.name}"), or export one snapshot of it with --snapshot.`);
  }
  const found = boxProblems(core, box);
  if (found.problems[0]) throw chainError(found.problems[0]);
  const sources: Source[] = [];
  const image = box.imageId === null ? null : core.store.getImage(box.imageId);
  if (box.imageId !== null && !image) throw notFound(`The image of the box ${JSON.stringify(box.name)} has no record; run "boxkeep check".`);
  const base = box.linkedSnapshotId === null ? null : core.store.getSnapshot(box.linkedSnapshotId);
  if (box.linkedSnapshotId !== null && !base) throw notFound(`The snapshot the linked clone ${JSON.stringify(box.name)} is based on has no record; run "boxkeep check".`);
  const snapshots = parentsFirst(core.store.listSnapshots(box.id));
  const ordinal = new Map(snapshots.map((s, i) => [s.id, i]));
  const manifestSnapshots = snapshots.map((s, i) => {
    const disk = `snapshot-${i}.qcow2`;
    sources.push({ name: disk, file: s.diskPath, layer: true });
    const extras: Partial<Record<SnapshotExtra, string>> = {};
    for (const extra of Object.keys(SNAPSHOT_EXTRAS) as SnapshotExtra[]) {
      const file = path.join(core.paths.snapshotDir(box.id, s.id), extra);
      if (!fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) continue;
      extras[extra] = `snapshot-${i}.${extra}`;
      sources.push({ name: extras[extra]!, file, layer: false });
    }
    return {
      id: exportId(i), parentId: s.parentId === null ? null : exportId(ordinal.get(s.parentId)!), name: s.name, description: s.description,
      createdAt: s.createdAt, live: s.live, taken: s.taken, ...(s.memory && extras['memory.state'] ? { memory: s.memory } : {}), disk: { file: disk, virtualSize: core.store.snapshotFacts(s.id)?.virtualSize ?? s.virtualSize }, extras,
    };
  });
  sources.push({ name: 'live.qcow2', file: box.liveDiskPath, layer: true });
  if (box.firmware === 'uefi') sources.push({ name: 'efivars.fd', file: core.paths.efiVars(box.id), layer: false });
  // Last before the manifest: nothing after it can fail and leave the scratch file behind.
  const scratch = base ? await flatten(core, box, base, task) : null;
  const manifest = {
    ...head(),
    box: { ...boxSettings(core, box), live: { file: 'live.qcow2', virtualSize: found.verified[0]!.header.virtualSize }, efivars: box.firmware === 'uefi' ? 'efivars.fd' : null, currentSnapshotId: box.currentSnapshotId === null ? null : exportId(ordinal.get(box.currentSnapshotId)!) },
    image: base && scratch ? imagePart(`${box.name} base`.slice(0, 200), core.store.snapshotFacts(base.id)?.virtualSize ?? base.virtualSize, image, sources, scratch)
      : image ? imagePart(image.name, image.virtualSize, image, sources, image.path) : null,
    snapshots: manifestSnapshots,
  };
  return { manifest, sources, scratch };
}

/** A frozen snapshot's disk as one standalone qcow2 (qemu-img convert), a scratch file of the box's folder the export removes. */
async function flatten(core: HomeData, box: Box, snapshot: Snapshot, task: TaskHandle): Promise<string> {
  const scratch = path.join(core.paths.boxDir(box.id), `.export-${crypto().randomBytes(4).toString('hex')}.qcow2`);
  try {
    await convert(snapshot.diskPath, 'qcow2', scratch, { onProgress: (f) => task.progress(f * 0.3, `Flattening ${snapshot.name}`) });
  } catch (err) {
    fs.rmSync(scratch, { force: true });
    throw err;
  }
  return scratch;
}

/**
 * One snapshot as a box of its own: its disk flattened (qemu-img convert, into a scratch file
 * of the box's folder) becomes the archive's image, with the source image's kernel and initrd,
 * and the box a fresh empty live disk on it. A running box may be exported this way: a frozen
 * snapshot never changes.
 */
export async function planSnapshot(core: HomeData, box: Box, snapshot: Snapshot, task: TaskHandle): Promise<ExportPlan> {
  verifyBoxChain(core, box, { snapshotId: snapshot.id });
  const scratch = await flatten(core, box, snapshot, task);
  const virtualSize = core.store.snapshotFacts(snapshot.id)?.virtualSize ?? snapshot.virtualSize;
  const image = box.imageId === null ? null : core.store.getImage(box.imageId);
  const sources: Source[] = [];
  const live = emptyQcow2(virtualSize, null);
  if (!live) throw invalidArgument(`The snapshot's disk (${virtualSize} bytes) is too large to export flattened.`);
  const manifest = {
    ...head(),
    box: { ...boxSettings(core, box), live: { file: 'live.qcow2', virtualSize }, efivars: box.firmware === 'uefi' ? 'efivars.fd' : null, currentSnapshotId: null },
    image: imagePart(`${box.name} ${snapshot.name}`.slice(0, 200), virtualSize, image, sources, scratch),
    snapshots: [],
  };
  sources.push({ name: 'live.qcow2', bytes: live, layer: false });
  if (box.firmware === 'uefi') sources.push({ name: 'efivars.fd', file: core.paths.snapshotEfiVars(box.id, snapshot.id), layer: false });
  return { manifest, sources, scratch };
}

const head = () => ({ format: FORMAT, version: FORMAT_VERSION, createdAt: Date.now() }) as const;
const exportId = (i: number) => i.toString(16).padStart(12, '0');

function boxSettings(core: HomeData, box: Box) {
  return {
    name: box.name, cpus: box.cpus, memoryMib: box.memoryMib, diskSize: box.diskSize, network: box.network,
    forwards: box.forwards.map(formatForward), display: box.display, firmware: box.firmware, stopTimeoutSec: box.stopTimeoutSec,
    installedFrom: box.installedFrom, cloudInit: core.store.cloudInitRecord(box.id),
  };
}

function imagePart(name: string, virtualSize: number, image: { kernelPath: string | null; initrdPath: string | null; append: string | null } | null, sources: Source[], disk: string) {
  sources.push({ name: 'image.qcow2', file: disk, layer: true });
  if (image?.kernelPath) sources.push({ name: 'kernel', file: image.kernelPath, layer: false });
  if (image?.initrdPath) sources.push({ name: 'initrd', file: image.initrdPath, layer: false });
  return { name, disk: { file: 'image.qcow2', virtualSize }, kernel: image?.kernelPath ? 'kernel' : null, initrd: image?.initrdPath ? 'initrd' : null, append: image?.append ?? null };
}

/** Parents before children (creation order almost always is; a reparenting removal keeps it, but do not rely on it). */
function parentsFirst(snapshots: Snapshot[]): Snapshot[] {
  const out: Snapshot[] = [];
  const placed = new Set<string>();
  const byParent = new Map<string | null, Snapshot[]>();
  for (const s of snapshots) byParent.set(s.parentId, [...(byParent.get(s.parentId) ?? []), s]);
  const ids = new Set(snapshots.map((s) => s.id));
  const visit = (parent: string | null) => {
    for (const s of byParent.get(parent) ?? []) {
      if (placed.has(s.id)) continue;
      placed.add(s.id);
      out.push(s);
      visit(s.id);
    }
  };
  visit(null);
  for (const s of snapshots) if (s.parentId !== null && !ids.has(s.parentId)) visit(s.parentId);
  return out;
}

/** A member's bytes, a MiB at a time; a layer's first piece has its backing name blanked. */
async function* sourceBytes(source: Source, expectSize: number | null): AsyncGenerator<Buffer> {
  if (source.bytes) {
    yield source.bytes;
    return;
  }
  const opened = openRegularFile(source.file!, Number.MAX_SAFE_INTEGER);
  if ('what' in opened) throw storageError(`${source.file} is ${opened.what}, not the file Boxkeep made; nothing was exported.`);
  const { fd, size } = opened;
  try {
    if (expectSize !== null && size !== expectSize) throw storageError(`${source.file} changed while it was being exported; export again.`);
    for (let at = 0; at < size; ) {
      const piece = Buffer.allocUnsafe(Math.min(CHUNK, size - at));
      const n = fs.readSync(fd, piece, 0, piece.length, at);
      if (n === 0) throw storageError(`${source.file} became shorter while it was being exported; export again.`);
      const out = piece.subarray(0, n);
      if (at === 0 && source.layer) blankBacking(out);
      at += n;
      yield out;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Clears the backing name's offset, length and bytes in a qcow2 file's first piece. */
function blankBacking(first: Buffer): void {
  if (first.length < 20) return;
  const offset = Number(first.readBigUInt64BE(8));
  const length = first.readUInt32BE(16);
  if (offset === 0) return;
  if (offset + length > Math.min(first.length, PREFIX_BYTES)) throw storageError('A layer has its backing name outside its first cluster; nothing was exported.');
  first.fill(0, offset, offset + length);
  first.fill(0, 8, 20);
}

/** Size and sha256 of every member, as the manifest lists them (the first pass). */
export async function hashSources(sources: Source[], onBytes: (n: number) => void, signal: AbortSignal): Promise<Manifest['files']> {
  const files: Manifest['files'] = [];
  for (const source of sources) {
    const hash = crypto().createHash('sha256');
    let size = 0;
    for await (const piece of sourceBytes(source, null)) {
      signal.throwIfAborted();
      hash.update(piece);
      size += piece.length;
      onBytes(piece.length);
    }
    files.push({ name: source.name, size, sha256: hash.digest('hex') });
  }
  return files;
}

/** The archive's bytes in order: manifest.json, then each member, then the end marker. */
async function* archiveBytes(manifest: Buffer, sources: Source[], files: Manifest['files'], onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const mtime = Date.now() / 1000;
  yield memberHeader(MANIFEST_NAME, manifest.length, mtime);
  yield manifest;
  yield padding(manifest.length);
  for (const [i, source] of sources.entries()) {
    const size = files[i]!.size;
    yield memberHeader(source.name, size, mtime);
    for await (const piece of sourceBytes(source, size)) {
      onBytes(piece.length);
      yield piece;
    }
    yield padding(size);
  }
  yield trailer();
}

/**
 * Writes the archive to a fresh temporary file beside `out` (never over anything), then
 * renames it into place once every byte is durable. A failed or cancelled export removes it;
 * one killed mid-way leaves it under a record in `journal` (the box's), so the next opening's
 * recovery removes it (archive/settle.ts).
 */
export async function writeArchive(given: string, plan: ExportPlan, compression: Compression, task: TaskHandle, record: { journal: string; boxId: string }): Promise<{ bytes: number }> {
  const out = path.resolve(given);
  if (fs.lstatSync(out, { throwIfNoEntry: false })) throw alreadyExists(`${out} already exists; choose another file name, or remove it first.`);
  const dir = path.dirname(out);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw notFound(`The folder ${dir} does not exist; choose where to write the archive.`);
  const base = plan.scratch ? 0.3 : 0;
  const total = plan.sources.reduce((n, s) => n + (s.bytes?.length ?? fs.statSync(s.file!).size), 0) * 2 || 1;
  let done = 0;
  const onBytes = (n: number) => {
    done += n;
    task.progress(base + (1 - base) * (done / total));
  };
  removeAbandonedPartials(out);
  const tmp = path.join(dir, `.${path.basename(out)}.${partialOwner()}-${crypto().randomBytes(4).toString('hex')}.partial`);
  // No record on a home whose disk is full (an export is how space is made elsewhere): the
  // partial is then found by the next export to the same name (removeAbandonedPartials).
  const intent: BoxExportIntent | null = noRoomForRecord(path.dirname(record.journal)) ? null : { id: newId(), op: 'box-export', startedAt: Date.now(), boxId: record.boxId, out, partial: tmp };
  if (intent) writeIntent(record.journal, intent);
  boxExport.crash('after-intent');
  try {
    const files = await hashSources(plan.sources, onBytes, task.signal);
    const manifest = Buffer.from(JSON.stringify({ ...plan.manifest, files }, null, 1));
    const { Readable, promises } = stream();
    const packed = compressor(compression);
    const stages: NodeJS.ReadWriteStream[] = packed ? [packed] : [];
    const sink = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    await promises.pipeline([Readable.from(archiveBytes(manifest, plan.sources, files, onBytes)), ...stages, sink], { signal: task.signal });
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    boxExport.crash('after-write');
    landWithoutReplacing(tmp, out);
    fsyncDir(dir);
    boxExport.crash('after-land');
    return { bytes: fs.statSync(out).size };
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    if (task.signal.aborted) throw invalidState('The export was cancelled; no archive was written.');
    throw err;
  } finally {
    // A record that cannot be cleared is settled by the next opening: never the export's failure.
    if (intent) {
      try {
        clearIntent(record.journal, intent.id);
      } catch {
        /* left for recovery, which only removes the partial (gone by now) */
      }
    }
  }
}

/**
 * Gives the finished archive its name, never over a file that appeared meanwhile: a hard link
 * fails with EEXIST if the name is taken, in one step (a check then a rename leaves a window in
 * which another program's file would be replaced). Where the folder's filesystem has no hard
 * links (FAT on a USB stick), the check and the rename are the best there is.
 */
function landWithoutReplacing(tmp: string, out: string): void {
  const appeared = () => alreadyExists(`${out} appeared while the archive was being written; nothing was replaced.`);
  try {
    fs.linkSync(tmp, out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw appeared();
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    if (fs.lstatSync(out, { throwIfNoEntry: false })) throw appeared();
    fs.renameSync(tmp, out);
    return;
  }
  fs.rmSync(tmp, { force: true });
}

/** Who writes a partial archive: pid and start time, so a recycled pid is not taken for it. */
const partialOwner = () => `${process.pid}-${processStartTime(process.pid) ?? 0}`;

/**
 * An export killed mid-way (power cut, kill -9) leaves its hidden partial file beside the
 * target, as large as what it had written. The next export to that name removes those whose
 * writer is gone; one whose writer still runs (another export, racing) is left alone.
 */
function removeAbandonedPartials(out: string): void {
  const prefix = `.${path.basename(out)}.`;
  const dir = path.dirname(out);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.partial')) continue;
    const owner = /^(\d+)-(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length, -'.partial'.length));
    if (!owner) continue;
    const [pid, startTime] = [Number(owner[1]), owner[2]];
    if (processStartTime(pid) === startTime) continue;
    const file = path.join(dir, name);
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) fs.rmSync(file, { force: true });
  }
}
