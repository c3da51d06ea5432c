// Images: imported base disks, read-only once imported. An image file is untrusted input:
// its format is decided by us (never probed by qemu-img), and one that names a backing file
// or an external data file is refused, since either would pull a host file into the guest.
import fs from 'node:fs';
import path from 'node:path';
import { alreadyExists, invalidArgument, invalidState, notFound } from '../../../shared/errors.js';
import { diskSizeProblem } from '../../../shared/bytes.js';
import { nameProblem, someOf } from '../../../shared/names.js';
import type { ChannelInput } from '../../../shared/channels.js';
import type { Image } from '../../../shared/types.js';
import type { Effects, HomeData } from '../deps.js';
import { readLayerFacts } from '../disk/confine.js';
import { looksLikeIso, readIsoFacts } from '../disk/iso.js';
import { isQcow2, readQcow2Header } from '../disk/qcow2.js';
import { convert, measureConvert } from '../disk/qemu-img.js';
import { OVERLAY_BYTES, requireSpace } from '../space.js';
import { mkdirDurable, removeDurable, renameDurable, sizeOnDisk } from '../fsutil.js';
import { isId, newId } from '../ids.js';
import { clearIntent } from '../journal.js';
import { HOME_KEY } from '../mutex.js';
import type { Tasks } from '../tasks.js';
import { imageImport, imageRemove, type ImageImportIntent, type ImageRemoveIntent } from './intents.js';
import { installInstaller, notADisk, type Installed } from './installer.js';


const MAX_BOOT_FILE = 512 * 1024 * 1024;

/** What the image service needs: the home, its queues and events, and the task reporter for imports. */
export type ImageDeps = HomeData & Effects & { tasks: Tasks };

export class ImageService {
  constructor(private readonly core: ImageDeps) {}

  list(): Image[] {
    return this.core.store.listImages();
  }

  resolve(ref: string): Image {
    const image = this.core.store.findImage(ref);
    if (!image) throw notFound(`No image is called ${JSON.stringify(ref)}. See the imported images with "boxkeep image list".`);
    return image;
  }

  import(input: ChannelInput<'images:import'>): Promise<Image> {
    return this.core.locks.run(HOME_KEY, () => this.importLocked(input));
  }

  private async importLocked(input: ChannelInput<'images:import'>): Promise<Image> {
    const { store, paths } = this.core;
    const source = checkedFile(input.path, 'image file');
    const name = input.name ?? defaultImageName(input.path);
    const problem = nameProblem(name, 'image name');
    if (problem) throw invalidArgument(`${problem} Give the image another name.`);
    if (store.imageNameTaken(name)) throw alreadyExists(`An image called ${JSON.stringify(name)} already exists; give the image another name.`);
    const kernel = input.kernelPath ? checkedFile(input.kernelPath, 'kernel', MAX_BOOT_FILE) : null;
    const initrd = input.initrdPath ? checkedFile(input.initrdPath, 'initrd', MAX_BOOT_FILE) : null;
    if (initrd && !kernel) throw invalidArgument('An initrd was given without a kernel; give the kernel too, or neither.');
    const format = await untrustedFormat(source);
    if (format === 'iso' && (kernel || initrd || input.append !== undefined)) {
      throw invalidArgument(`The image ${input.path} is installer media (an ISO 9660 image), which boots by itself; it takes no --kernel, --initrd or --append.`);
    }
    const bootFiles = (kernel ? fs.statSync(kernel).size : 0) + (initrd ? fs.statSync(initrd).size : 0);
    // A raw source is measured where it is (read as raw, any bytes are only bytes). A qcow2 one
    // is measured only once our private copy exists (see privateCopy): here it is counted as
    // the copy plus a conversion at least its size, and measured exactly before converting.
    // An ISO is copied as it is.
    const size = fs.statSync(source).size;
    const firstEstimate = format === 'iso' ? size : format === 'raw' ? await measureConvert(source, 'raw') : 2 * size;
    requireSpace(this.core, `Importing the image ${JSON.stringify(name)}`, firstEstimate + bootFiles + OVERLAY_BYTES);

    const imageId = newId();
    const intent: ImageImportIntent = { id: newId(), op: 'image-import', startedAt: Date.now(), imageId };
    // Nothing of a failed import is kept: the row was never written, the folder goes.
    const onFailure = () => {
      if (!store.getImage(imageId)) {
        removeDurable(paths.imageDir(imageId));
        clearIntent(paths.homeJournal, intent.id);
      }
    };
    const base = { id: imageId, name, kernelPath: kernel ? paths.imageKernel(imageId) : null, initrdPath: initrd ? paths.imageInitrd(imageId) : null, append: input.append ?? null };
    return this.core.tasks.run('image-import', null, `Importing ${name}`, async (task) => {
      const image = await imageImport.journaled(paths.homeJournal, intent, async () => {
        mkdirDurable(paths.imageDir(imageId));
        const installed = format === 'iso'
          ? await installInstaller(paths, imageId, source)
          : await this.installDisk(imageId, source, format, { kernel, initrd, name, bootFiles, onProgress: (f) => task.progress(f * 0.95) });
        imageImport.crash('after-install');
        const image: Image = { ...base, ...installed.image, sizeOnDisk: sizeOnDisk(installed.image.path), createdAt: Date.now() };
        store.transaction(() => {
          store.insertImage(image);
          store.setImageFacts(image.id, installed.facts);
        });
        imageImport.crash('after-row');
        return image;
      }, { onFailure });
      this.core.logger.info('image imported', { op: 'image-import', imageId, name, format });
      this.core.events.emit('images:changed', { imageId });
      return image;
    });
  }

  /** A disk: converted to a self-contained qcow2 in the image's folder, with its boot files. */
  private async installDisk(imageId: string, source: string, format: 'qcow2' | 'raw', o: { kernel: string | null; initrd: string | null; name: string; bootFiles: number; onProgress: (f: number) => void }): Promise<Installed> {
    const { paths } = this.core;
    const staging = path.join(paths.imageDir(imageId), '.importing.qcow2');
    const from = format === 'qcow2' ? await privateCopy(source, paths.imageDir(imageId)) : source;
    if (from !== source) requireSpace(this.core, `Importing the image ${JSON.stringify(o.name)}`, (await measureConvert(from, 'qcow2')) + o.bootFiles);
    await convert(from, format, staging, { onProgress: o.onProgress });
    if (from !== source) fs.rmSync(from);
    imageImport.crash('after-convert');
    // The copy is ours now, but check again: the converted file must be self-contained.
    const header = await readQcow2Header(staging);
    if (header.backingFile || header.hasExternalDataFile) throw invalidArgument('The converted image still references another file; it was not imported.');
    if (o.kernel) fs.copyFileSync(o.kernel, paths.imageKernel(imageId));
    if (o.initrd) fs.copyFileSync(o.initrd, paths.imageInitrd(imageId));
    renameDurable(staging, paths.imageDisk(imageId));
    for (const f of [paths.imageDisk(imageId), o.kernel && paths.imageKernel(imageId), o.initrd && paths.imageInitrd(imageId)]) {
      if (f) fs.chmodSync(f, 0o444);
    }
    const image = { kind: 'disk' as const, format: 'qcow2' as const, path: paths.imageDisk(imageId), virtualSize: header.virtualSize };
    return { image, facts: readLayerFacts(image.path) };
  }

  remove(ref: string): Promise<{ removedId: string }> {
    return this.core.locks.run(HOME_KEY, async () => {
      const { store, paths } = this.core;
      const image = this.resolve(ref);
      const users = store.boxesUsingImage(image.id);
      if (users.length > 0) {
        const names = someOf(users.map((b) => JSON.stringify(b.name)));
        const one = users.length === 1;
        // Installer media is only attached, never under a box's disk: ejecting frees it.
        if (image.kind === 'installer') {
          const eject = someOf(users.map((b) => `"boxkeep box eject ${b.name}"`));
          throw invalidState(`The image ${JSON.stringify(image.name)} is used by ${one ? 'the box' : 'the boxes'} ${names} (attached as ${one ? 'its' : 'their'} installer CD-ROM); eject it first (${eject}), then remove the image.`);
        }
        throw invalidState(`The image ${JSON.stringify(image.name)} is used by ${one ? 'the box' : 'the boxes'} ${names}; remove ${one ? 'that box' : 'those boxes'} first.`);
      }
      const intent: ImageRemoveIntent = { id: newId(), op: 'image-remove', startedAt: Date.now(), imageId: image.id };
      await imageRemove.journaled(paths.homeJournal, intent, async () => {
        store.deleteImage(image.id);
        imageRemove.crash('after-row');
        removeDurable(paths.imageDir(image.id));
        imageRemove.crash('after-delete');
      });
      this.core.logger.info('image removed', { op: 'image-remove', imageId: image.id });
      this.core.events.emit('images:changed', { imageId: image.id });
      return { removedId: image.id };
    });
  }
}

function checkedFile(file: string, what: string, maxBytes = Number.MAX_SAFE_INTEGER): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw notFound(`The ${what} ${file} does not exist or cannot be read; check the path.`);
  }
  if (!stat.isFile()) throw invalidArgument(`The ${what} ${file} is not a regular file.`);
  if (stat.size === 0) throw invalidArgument(`The ${what} ${file} is empty.`);
  if (stat.size > maxBytes) throw invalidArgument(`The ${what} ${file} is larger than ${Math.round(maxBytes / 1048576)} MiB; that is not a ${what}.`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw invalidArgument(`The ${what} ${file} is not readable by this user; check its permissions.`);
  }
  return path.resolve(file);
}

/**
 * qcow2 by its magic (and then its header must be safe), an ISO 9660 image by "CD001" at
 * 0x8001 (installer media), a file that is plainly something else refused, the rest raw bytes.
 */
async function untrustedFormat(file: string): Promise<'qcow2' | 'raw' | 'iso'> {
  if (!(await isQcow2(file))) {
    if (looksLikeIso(file)) {
      // A truncated or malformed ISO is refused here, before anything is written to the home.
      readIsoFacts(file);
      return 'iso';
    }
    const problem = notADisk(file);
    if (problem) throw invalidArgument(`The file ${file} is neither a disk image nor installer media: ${problem}. Boxkeep imports qcow2 and raw disks, and ISO 9660 installers.`);
    // A raw disk is as large as the file: sparse, that costs the file nothing.
    refuseOversize(file, fs.statSync(file).size);
    return 'raw';
  }
  const header = await readQcow2Header(file);
  refuseOversize(file, header.virtualSize);
  if (header.backingFile) {
    throw invalidArgument(`The image ${file} names a backing file (${JSON.stringify(header.backingFile.slice(0, 200))}); Boxkeep only imports self-contained images, since a backing file could expose a host file to the guest. Flatten it first: qemu-img convert -O qcow2 <in> <out>.`);
  }
  if (header.hasExternalDataFile) {
    throw invalidArgument(`The image ${file} keeps its data in an external file; Boxkeep only imports self-contained images. Flatten it first: qemu-img convert -O qcow2 <in> <out>.`);
  }
  return 'qcow2';
}

/** Before anything is written: an image claiming a disk past Boxkeep's largest (shared/bytes.ts says why) is refused. */
function refuseOversize(file: string, virtualSize: number): void {
  const problem = diskSizeProblem(virtualSize);
  if (problem) {
    throw invalidArgument(`The image ${file} claims ${problem}; it was not imported. A header this large is most likely damaged or made by mistake: check it with "qemu-img info ${file}", or make a smaller disk of its contents first.`);
  }
}

/**
 * A qcow2 source is copied into the home and checked again there before qemu-img reads it:
 * checking the user's path and then letting qemu-img open that path again would leave a
 * window in which the file could be swapped for one naming a host file as its backing file.
 * Nobody else can change our copy. (A raw source needs none of this: read as raw, any bytes
 * are only bytes.)
 */
async function privateCopy(source: string, dir: string): Promise<string> {
  const copy = path.join(dir, '.source.qcow2');
  fs.copyFileSync(source, copy, fs.constants.COPYFILE_FICLONE);
  fs.chmodSync(copy, 0o600);
  if ((await untrustedFormat(copy)) !== 'qcow2') throw invalidArgument(`The image ${source} changed while it was being imported; import it again.`);
  return copy;
}

/** A name from the file's, always one the rules take: no leading dots or white space at the ends, not an id's form. */
function defaultImageName(file: string): string {
  const base = path.basename(file).replace(/\.(qcow2|img|raw|iso)$/i, '').replace(/^\.+/, '').trim();
  const name = isId(base) ? `${base}-image` : base;
  return nameProblem(name) === null ? name : 'image';
}
