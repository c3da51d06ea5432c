// boxkeep image …: import, list and remove base images.
import type { Image } from '../../../shared/types.js';
import { arg, given, opt, output, type CommandGroup } from '../command.js';
import { humanBytes, relativeTime, table } from '../format.js';

export const imageCommands: CommandGroup = {
  name: 'image',
  title: 'Images',
  commands: [
    {
      usage: 'image import <file> [--name N] [--kernel F --initrd F --append S]',
      summary: 'Import a disk image (qcow2 or raw) into the home, optionally with a kernel to boot it directly.',
      details:
        'The file is copied into the home and never changed afterwards; boxes are created on top of it.\n' +
        'Without --name the image is named after the file. --kernel, --initrd and --append give a\n' +
        'kernel, initramfs and kernel command line for direct boot; they are copied into the home too.',
      kinds: { file: 'path', kernel: 'path', initrd: 'path' },
      async run({ args, api }) {
        const image = await api.images.import(
          given({ path: arg(args, 'file'), name: opt(args, 'name'), kernelPath: opt(args, 'kernel'), initrdPath: opt(args, 'initrd'), append: opt(args, 'append') }),
        );
        return output(image, () => `Imported image ${JSON.stringify(image.name)} (${image.id}): ${humanBytes(image.virtualSize)} virtual, ${humanBytes(image.sizeOnDisk)} on disk.` + (image.kernelPath ? '\nBoots its own kernel directly.' : ''));
      },
    },
    {
      usage: 'image list',
      summary: 'List the imported images.',
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
    ['ID', 'NAME', 'VIRTUAL', 'ON DISK', 'BOOT', 'IMPORTED'],
    images.map((i) => [i.id, i.name, humanBytes(i.virtualSize), humanBytes(i.sizeOnDisk), i.kernelPath ? 'kernel' : 'disk', relativeTime(i.createdAt, now)]),
    { align: ['left', 'left', 'right', 'right'], maxWidth: width, flex: 1 },
  );
}
