// Import of a .boxkeep file, which is untrusted input from anywhere. The order is the defence:
// the manifest is read and checked whole before anything is written; then each member, in the
// order the manifest lists, is copied into a new file of a new folder while its size and
// sha256 are checked against the manifest; each layer's header must then name no backing and
// no data file (the chain is rebuilt from the manifest, with Boxkeep's own paths, by
// `qemu-img rebase -u`); the rows come last, in one transaction that also confines the whole
// tree. All of it under a box-import intent: a failure removes the new folders at once, a
// crash leaves them to recovery (archive/settle.ts), which removes them.
import fs from 'node:fs';
import path from 'node:path';
import { alreadyExists, BoxkeepError, invalidArgument, invalidState, notFound } from '../../../shared/errors.js';
import { parseForwards } from '../../../shared/forwards.js';
import { freeName, nameProblem, utf8Length } from '../../../shared/names.js';
import type { Box, Image, SnapshotTaken } from '../../../shared/types.js';
import { crypto, stream } from '../builtins.js';
import type { HomeData } from '../deps.js';
import { chainError, readLayerFacts } from '../disk/confine.js';
import { readQcow2LayerSync } from '../disk/qcow2.js';
import { rebase } from '../disk/qemu-img.js';
import { fsyncDir, mkdirDurable, openRegularFile, removeDurable, sizeOnDisk } from '../fsutil.js';
import { newId, newMacAddress } from '../ids.js';
import { clearIntent } from '../journal.js';
import { boxProblems } from '../snapshots/box-chain.js';
import { OVERLAY_BYTES, requireSpace, withMetadata } from '../space.js';
import type { TaskHandle } from '../tasks.js';
import { compressionOf, decompressor } from './compress.js';
import { boxImport, type BoxImportIntent } from './intents.js';
import { MANIFEST_MAX_BYTES, MANIFEST_NAME, parseManifest, type Manifest, type ManifestSnapshot, type MemberRole } from './manifest.js';
import { archiveError, ByteReader, nextMember, skipPadding } from './tar.js';

/** Where each member goes, by its name in the archive, and the ids the import made. */
interface Placement {
  boxId: string;
  imageId: string | null;
  snapshotIds: Map<string, string>;
  targets: Map<string, string | null>;
}

export async function importArchive(core: HomeData, file: string, wantName: string | undefined, task: TaskHandle): Promise<Box> {
  const { fd, size } = openArchive(file);
  const head = Buffer.alloc(512);
  const headBytes = fs.readSync(fd, head, 0, 512, 0);
  const kind = compressionOf(head.subarray(0, headBytes));
  if (kind === null) {
    fs.closeSync(fd);
    throw invalidArgument(`${file} is not a Boxkeep archive (neither a tar file nor zstd or gzip compressed); nothing was imported.`);
  }
  const raw = fs.createReadStream('', { fd, highWaterMark: 1024 * 1024, autoClose: true });
  const unpack = decompressor(kind);
  const source = unpack ? raw.pipe(unpack) : raw;
  if (unpack) raw.on('error', (err) => unpack.destroy(err));
  const onAbort = () => source.destroy(invalidState('The import was cancelled; nothing was imported.'));
  task.signal.addEventListener('abort', onAbort, { once: true });
  const reader = new ByteReader(source as AsyncIterable<Buffer>);
  const progress = () => task.progress(size ? raw.bytesRead / size : 0);
  try {
    const { manifest, roles } = await readManifest(reader);
    return await install(core, { manifest, roles, reader, wantName, progress, signal: task.signal });
  } catch (err) {
    throw task.signal.aborted ? invalidState('The import was cancelled; nothing was imported.') : damaged(err, kind);
  } finally {
    task.signal.removeEventListener('abort', onAbort);
    await reader.close().catch(() => {});
    raw.destroy();
    unpack?.destroy();
  }
}

function openArchive(file: string): { fd: number; size: number } {
  let opened;
  try {
    opened = openRegularFile(file, Number.MAX_SAFE_INTEGER);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(`${file} does not exist; check the path.`);
    if (code === 'ELOOP') throw invalidArgument(`${file} is a symbolic link; give the archive's own path.`);
    throw invalidArgument(`${file} cannot be read (${code ?? (err as Error).message}).`);
  }
  if ('what' in opened) throw invalidArgument(`${file} is ${opened.what}, not an archive file.`);
  return opened;
}

/** A decompressor's own failure (a damaged zstd or gzip stream) said in the archive's words. */
function damaged(err: unknown, kind: string): unknown {
  if (err instanceof BoxkeepError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('Z_') || code === 'ERR_STREAM_PREMATURE_CLOSE') return archiveError(`its ${kind} compressed data is damaged or cut short (${(err as Error).message})`);
  return err;
}

async function readManifest(reader: ByteReader): Promise<ReturnType<typeof parseManifest>> {
  const first = await nextMember(reader);
  if (!first || first.name !== MANIFEST_NAME) throw archiveError(`its first member must be ${MANIFEST_NAME}${first ? `, not ${JSON.stringify(first.name)}` : ''}`);
  if (first.size > MANIFEST_MAX_BYTES) throw archiveError(`its ${MANIFEST_NAME} is ${first.size} bytes, more than ${MANIFEST_MAX_BYTES}`);
  const bytes = Buffer.from(await reader.exact(first.size, MANIFEST_NAME));
  await skipPadding(reader, first.size, MANIFEST_NAME);
  return parseManifest(bytes);
}

interface InstallArgs {
  manifest: Manifest;
  roles: Map<string, MemberRole>;
  reader: ByteReader;
  wantName: string | undefined;
  progress: () => void;
  signal: AbortSignal;
}

async function install(core: HomeData, a: InstallArgs): Promise<Box> {
  const { store, paths } = core;
  const { manifest } = a;
  if (a.wantName !== undefined && store.boxNameTaken(a.wantName)) {
    throw alreadyExists(`A box called ${JSON.stringify(a.wantName)} already exists; give the imported box another name.`);
  }
  // A name from an archive made before a rule was added (nameProblem's asRead) is not given to a
  // new box or image as it is: the box needs --name, the image takes its box's name.
  const given = nameProblem(manifest.box.name, 'box name');
  if (a.wantName === undefined && given) throw invalidArgument(`The archive's box cannot keep its name: ${given} Import it under another name.`);
  const boxName = a.wantName ?? freeName(manifest.box.name, (n) => store.boxNameTaken(n));
  const imageName = manifest.image ? freeName(nameProblem(manifest.image.name) ? fallbackImageName(boxName) : manifest.image.name, (n) => store.imageNameTaken(n)) : null;
  const total = manifest.files.reduce((n, f) => n + f.size, 0);
  requireSpace(core, `Importing the box ${JSON.stringify(boxName)}`, withMetadata(total) + OVERLAY_BYTES);

  const place = placement(core, manifest);
  const intent: BoxImportIntent = { id: newId(), op: 'box-import', startedAt: Date.now(), boxId: place.boxId, imageId: place.imageId };
  // Nothing of a failed import stays: the rows were never committed, the new folders go.
  const onFailure = () => {
    if (store.getBox(place.boxId)) return;
    removeDurable(paths.boxDir(place.boxId));
    if (place.imageId) removeDurable(paths.imageDir(place.imageId));
    clearIntent(paths.homeJournal, intent.id);
  };
  return boxImport.journaled(paths.homeJournal, intent, async () => {
    for (const dir of new Set([...place.targets.values()].flatMap((t) => (t === null ? [] : [path.dirname(t)])).concat(paths.boxJournal(place.boxId), paths.snapshotsDir(place.boxId)))) mkdirDurable(dir);
    await copyMembers(a, place);
    boxImport.crash('after-copy');
    await rebuildChain(core, manifest, place);
    boxImport.crash('after-rebase');
    const box = commitRows(core, manifest, place, boxName, imageName);
    boxImport.crash('after-row');
    return box;
  }, { onFailure });
}

function placement(core: HomeData, m: Manifest): Placement {
  const { paths } = core;
  const boxId = newId();
  const imageId = m.image ? newId() : null;
  const snapshotIds = new Map(m.snapshots.map((s) => [s.id, newId()]));
  const targets = new Map<string, string | null>();
  if (m.image && imageId) {
    targets.set(m.image.disk.file, paths.imageDisk(imageId));
    if (m.image.kernel) targets.set(m.image.kernel, paths.imageKernel(imageId));
    if (m.image.initrd) targets.set(m.image.initrd, paths.imageInitrd(imageId));
  }
  targets.set(m.box.live.file, paths.liveDisk(boxId));
  if (m.box.efivars) targets.set(m.box.efivars, paths.efiVars(boxId));
  for (const s of m.snapshots) {
    const id = snapshotIds.get(s.id)!;
    targets.set(s.disk.file, paths.snapshotDisk(boxId, id));
    // A memory state is a migration stream QEMU would load as trusted input: from an archive it
    // is checked like every member and then dropped, never written (the snapshot keeps its disk).
    for (const [extra, member] of Object.entries(s.extras)) if (member) targets.set(member, extra === 'memory.state' ? null : path.join(paths.snapshotDir(boxId, id), extra));
  }
  return { boxId, imageId, snapshotIds, targets };
}

/** Every member in the manifest's order, each checked while it is copied; then the archive must end. */
async function copyMembers(a: InstallArgs, place: Placement): Promise<void> {
  for (const expected of a.manifest.files) {
    const member = await nextMember(a.reader);
    if (!member) throw archiveError(`it ends before ${JSON.stringify(expected.name)}, which its manifest lists (truncated)`);
    if (member.name !== expected.name) {
      throw archiveError(a.roles.has(member.name) || member.name === MANIFEST_NAME
        ? `the member ${JSON.stringify(member.name)} comes where its manifest lists ${JSON.stringify(expected.name)} (out of order, or twice)`
        : `it holds the member ${JSON.stringify(member.name)}, which its manifest does not list`);
    }
    const role = a.roles.get(member.name)!;
    if (member.size !== expected.size) throw archiveError(`${role.what} (${JSON.stringify(member.name)}) is ${member.size} bytes, but its manifest says ${expected.size}`);
    const target = place.targets.get(member.name)!;
    await copyMember(a, member.name, member.size, target, expected.sha256, role);
    // Kept or not, the member's padding comes before the next header.
    await skipPadding(a.reader, member.size, member.name);
    if (target !== null && role.kind === 'layer') checkLayer(target, role, member.name);
  }
  if (await nextMember(a.reader)) throw archiveError('it holds more members than its manifest lists');
}

/** `target` null: read and checked, not kept. */
async function copyMember(a: InstallArgs, name: string, size: number, target: string | null, sha256: string, role: MemberRole): Promise<void> {
  // O_EXCL|O_NOFOLLOW in a folder made for this import: nothing else is ever written through.
  const fd = target === null ? null : fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  const hash = crypto().createHash('sha256');
  try {
    for await (const piece of a.reader.take(size, JSON.stringify(name))) {
      a.signal.throwIfAborted();
      hash.update(piece);
      if (fd !== null) for (let off = 0; off < piece.length; ) off += fs.writeSync(fd, piece, off, piece.length - off);
      a.progress();
    }
    if (fd !== null) fs.fsyncSync(fd);
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
  if (hash.digest('hex') !== sha256) throw archiveError(`${role.what} (${JSON.stringify(name)}) does not match its checksum in the manifest (the archive is damaged or was changed)`);
}

/** A layer as copied: a qcow2 whose header passes the bounded parser, names no other file, is not encrypted, and has the size the manifest says. */
function checkLayer(file: string, role: MemberRole, name: string): void {
  let header;
  try {
    header = readQcow2LayerSync(file, { digest: false }).header;
  } catch (err) {
    throw archiveError(`${role.what} (${JSON.stringify(name)}) is not a valid qcow2 disk: ${(err as Error).message.replace(`${file}: `, '').replace(/\.$/, '')}`);
  }
  if (header.backingFile !== null) throw archiveError(`${role.what} (${JSON.stringify(name)}) names the backing file ${JSON.stringify(header.backingFile.slice(0, 200))}; an archive's disks name no file (Boxkeep links them itself)`);
  if (header.hasExternalDataFile) throw archiveError(`${role.what} (${JSON.stringify(name)}) keeps its data in an external file, which could be any file on this computer`);
  if (header.encrypted) throw archiveError(`${role.what} (${JSON.stringify(name)}) is encrypted; Boxkeep has no key for it and its disks are never encrypted`);
  if (header.virtualSize !== role.virtualSize) throw archiveError(`${role.what} (${JSON.stringify(name)}) has a disk size of ${header.virtualSize} bytes, but its manifest says ${role.virtualSize}`);
}

/** Each layer backs onto the one the manifest puts under it, by Boxkeep's own absolute path. */
async function rebuildChain(core: HomeData, m: Manifest, place: Placement): Promise<void> {
  const { paths } = core;
  const root = place.imageId ? paths.imageDisk(place.imageId) : null;
  const diskOf = (exportedId: string | null) => (exportedId === null ? root : paths.snapshotDisk(place.boxId, place.snapshotIds.get(exportedId)!));
  const links: [string, string | null][] = m.snapshots.map((s) => [paths.snapshotDisk(place.boxId, place.snapshotIds.get(s.id)!), diskOf(s.parentId)]);
  links.push([paths.liveDisk(place.boxId), diskOf(m.box.currentSnapshotId)]);
  for (const [layer, backing] of links) if (backing !== null) await rebase(layer, backing, { unsafe: true });
  for (const dir of new Set(links.map(([layer]) => path.dirname(layer)))) fsyncDir(dir);
}

/** The rows in one transaction, which also confines the whole new tree: a problem rolls it all back. */
function commitRows(core: HomeData, m: Manifest, place: Placement, boxName: string, imageName: string | null): Box {
  const { store, paths } = core;
  const now = Date.now();
  if (m.image && place.imageId) {
    for (const f of [paths.imageDisk(place.imageId), m.image.kernel && paths.imageKernel(place.imageId), m.image.initrd && paths.imageInitrd(place.imageId)]) if (f) fs.chmodSync(f, 0o444);
  }
  store.transaction(() => {
    if (m.image && place.imageId) {
      const image: Image = {
        id: place.imageId, name: imageName!, kind: 'disk', format: 'qcow2', path: paths.imageDisk(place.imageId), virtualSize: m.image.disk.virtualSize,
        sizeOnDisk: sizeOnDisk(paths.imageDisk(place.imageId)), kernelPath: m.image.kernel ? paths.imageKernel(place.imageId) : null,
        initrdPath: m.image.initrd ? paths.imageInitrd(place.imageId) : null, append: m.image.append, createdAt: now,
      };
      store.insertImage(image);
      store.setImageFacts(image.id, readLayerFacts(image.path));
    }
    const b = m.box;
    store.insertBox({
      id: place.boxId, name: boxName, imageId: place.imageId, status: 'stopped', failureReason: null, cpus: b.cpus, memoryMib: b.memoryMib,
      diskSize: b.live.virtualSize, currentSnapshotId: null, createdAt: now, installerImageId: null, network: b.network,
      forwards: parseForwards(b.forwards), macAddress: newMacAddress(), stopTimeoutSec: b.stopTimeoutSec, cloudInit: b.cloudInit,
      display: b.display, firmware: b.firmware, installedFrom: b.installedFrom,
    });
    for (const s of m.snapshots) {
      const id = place.snapshotIds.get(s.id)!;
      const diskPath = paths.snapshotDisk(place.boxId, id);
      store.insertSnapshot({
        id, boxId: place.boxId, parentId: s.parentId === null ? null : place.snapshotIds.get(s.parentId)!, name: s.name, description: s.description,
        createdAt: s.createdAt, sizeOnDisk: sizeOnDisk(diskPath), virtualSize: s.disk.virtualSize, live: s.live, taken: importedTaken(s), diskPath,
      });
      store.setSnapshotFacts(id, readLayerFacts(diskPath));
    }
    if (b.currentSnapshotId !== null) store.setCurrentSnapshot(place.boxId, place.snapshotIds.get(b.currentSnapshotId)!);
    const { problems } = boxProblems(core, store.getBox(place.boxId)!);
    if (problems[0]) throw chainError(problems[0]);
  });
  return store.getBox(place.boxId)!;
}

/** How an imported snapshot was taken: with its memory dropped (see placement), a memory snapshot keeps its disk. */
function importedTaken(s: ManifestSnapshot): SnapshotTaken {
  const taken = s.taken ?? (s.live ? 'crash-consistent' : 'stopped');
  return taken === 'with-memory' ? 'crash-consistent' : taken;
}

/** "image of <box>", within 200 bytes (room for freeName's " (n)"), ending in no white space; "image" if even that breaks a rule. */
function fallbackImageName(boxName: string): string {
  const chars = [...`image of ${boxName}`];
  while (utf8Length(chars.join('')) > 200) chars.pop();
  const name = chars.join('').trimEnd();
  return nameProblem(name) === null ? name : 'image';
}
