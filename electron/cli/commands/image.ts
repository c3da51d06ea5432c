// boxkeep image …: import, list and remove base images and installer media.
import type { Image } from '../../../shared/types.js';
import { arg, given, opt, output, type CommandGroup } from '../command.js';
import { humanBytes, relativeTime, table } from '../format.js';

export const imageCommands: CommandGroup = {
  name: 'image',
  title: 'Images',
  commands: [
    {
      usage: 'image import <file> [--name N] [--kernel F --initrd F --append S]',
      summary: 'Import a disk image (qcow2 or raw), or installer media (an ISO 9660 image), into the home.',
      details:
        'The file is copied into the home and never changed afterwards; boxes are created on top of it.\n' +
        'An ISO is kept as installer media: a box made from it gets a blank disk (--disk-size) and\n' +
        'boots from the ISO as a read-only CD-ROM until it is ejected ("boxkeep box eject").\n' +
        'Without --name the image is named after the file. --kernel, --initrd and --append give a\n' +
        'kernel, initramfs and kernel command line for direct boot; they are copied into the home too.',
      kinds: { file: 'path', kernel: 'path', initrd: 'path' },
      async run({ args, api }) {
        const image = await api.images.import(
          given({ path: arg(args, 'file'), name: opt(args, 'name'), kernelPath: opt(args, 'kernel'), initrdPath: opt(args, 'initrd'), append: opt(args, 'append') }),
        );
        return output(image, () => (image.kind === 'installer'
          ? `Imported installer media ${JSON.stringify(image.name)} (${image.id}): an ISO of ${humanBytes(image.virtualSize)}. Make a box from it with: boxkeep box create <name> --image ${image.name} --disk-size GiB`
          : `Imported disk image ${JSON.stringify(image.name)} (${image.id}): ${humanBytes(image.virtualSize)} virtual, ${humanBytes(image.sizeOnDisk)} on disk.` + (image.kernelPath ? '\nBoots its own kernel directly.' : '')));
      },
    },
    {
      usage: 'image list',
      summary: 'List the imported images.',
      readOnly: true,
      async run({ api, now, width }) {
        const images = await api.images.list();
        return output(images, () => (images.length ? imageTable(images, now, width) : 'No images yet. Import one with: boxkeep image import <file>'));
      },
    },
    {
      usage: 'image remove <image>',
      summary: 'Remove an image that no box uses any more.',
      async run({ args, api }) {
        const ref = arg(args, 'image');
        const result = await api.images.remove({ image: ref });
        return output(result, () => `Removed image ${JSON.stringify(ref)} (${result.removedId}).`);
      },
    },
  ],
};

function imageTable(images: Image[], now: number, width: number | undefined): string {
  return table(
    ['ID', 'NAME', 'KIND', 'VIRTUAL', 'ON DISK', 'BOOT', 'IMPORTED'],
    images.map((i) => [i.id, i.name, i.kind === 'installer' ? 'installer (iso)' : 'disk', humanBytes(i.virtualSize), humanBytes(i.sizeOnDisk), i.kind === 'installer' ? 'cd-rom' : i.kernelPath ? 'kernel' : 'disk', relativeTime(i.createdAt, now)]),
    { align: ['left', 'left', 'left', 'right', 'right'], maxWidth: width, flex: 1 },
  );
}
