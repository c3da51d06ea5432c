// boxkeep box clone / export / import: copies of a box, in the home or as one .boxkeep file.
import { humanBytes } from '../format.js';
import { arg, given, on, opt, output, type Command } from '../command.js';

export const archiveCommands: Command[] = [
  {
    usage: 'box export <box> [--snapshot S] [--compression zstd|gzip|none] --output FILE',
    summary: 'Write a box, with its whole snapshot tree, or one snapshot flattened, into one .boxkeep file.',
    details:
      '-o FILE is short for --output FILE, which must not exist yet. The file holds the box\'s settings, its\n' +
      'image, every snapshot (with its picture, UEFI variables and memory state where it has them) and Now.\n' +
      'A running box can only be exported one snapshot at a time (--snapshot). Compressed with zstd when\n' +
      'it is installed, else gzip, unless --compression says otherwise.',
    kinds: { output: 'path' },
    async run({ args, api }) {
      const result = await api.boxes.export(given({
        box: arg(args, 'box'), snapshot: opt(args, 'snapshot'), path: args.flags.output as string,
        compression: opt(args, 'compression') as 'zstd' | 'gzip' | 'none' | undefined,
      }));
      return output(result, () => `Exported ${JSON.stringify(arg(args, 'box'))} to ${result.path} (${humanBytes(result.bytes)}, ${result.compression}).`);
    },
  },
  {
    usage: 'box import <file> [--name N]',
    summary: 'Make a new box from a .boxkeep file, with its snapshots and image.',
    details:
      'The file is checked whole (every member\'s size and checksum, every disk\'s header) before the box\n' +
      'exists; a damaged or hostile file is refused and leaves nothing behind. A box or image name already\n' +
      'taken gets a suffix such as " (2)", unless --name gives the box\'s name.',
    kinds: { file: 'path' },
    async run({ args, api }) {
      const box = await api.boxes.import(given({ path: arg(args, 'file'), name: opt(args, 'name') }));
      return output(box, () => `Imported box ${JSON.stringify(box.name)} (${box.id}).`);
    },
  },
];

export const cloneCommand: Command = {
  usage: 'box clone <box> [--from SNAPSHOT] [--full] [--name N]',
  summary: 'Make a new box from a snapshot of a box, or from its current state.',
  details:
    'Linked (the default): the clone\'s disk starts as an empty layer on the snapshot, so it takes no space\n' +
    'and no time; that snapshot is then shared and cannot be removed while the clone exists. --full copies\n' +
    'everything into the clone, which then needs nothing of the source box. Without --from the clone starts\n' +
    'from the box\'s current state (a snapshot of it is taken first when needed, a live one if it runs).\n' +
    'The clone gets its own MAC address, cloud-init instance and name ("<box> clone" unless --name), and no\n' +
    'port forwards (the source\'s would take the same host ports).',
  async run({ args, api }) {
    const box = await api.boxes.clone(given({ box: arg(args, 'box'), from: opt(args, 'from'), full: on(args, 'full') || undefined, name: opt(args, 'name') }));
    return output(box, () => `Cloned ${JSON.stringify(arg(args, 'box'))} as ${JSON.stringify(box.name)} (${box.id}), ${box.linkedSnapshotId ? 'linked to its snapshot' : 'a full copy'}.`);
  },
};
