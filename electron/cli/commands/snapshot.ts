// boxkeep snapshot …: take, browse, rename, restore and remove snapshots of a box.
import type { Api } from '../../../shared/client.js';
import { BoxkeepError } from '../../../shared/errors.js';
import { isActive, SNAPSHOT_TAKEN_WORDS, type Box, type Snapshot } from '../../../shared/types.js';
import { arg, given, on, opt, optArg, output, type CommandGroup } from '../command.js';
import { savePng } from '../png-file.js';
import { snapshotPinCommands } from '../protect-commands.js';
import { humanBytes, keyValues, localTime, relativeTime, snapshotTree } from '../format.js';
import { insideCommands } from './snapshot-inside.js';

const q = (text: string) => JSON.stringify(text);

export const snapshotCommands: CommandGroup = {
  name: 'snapshot',
  title: 'Snapshots',
  commands: [
    {
      usage: 'snapshot create <box> [<name>] [--description D] [--memory] [--no-memory]',
      summary: 'Take a snapshot of a box, running or stopped. Without a name it is named after the time.',
      details:
        '--memory (a running box) keeps its memory too: restoring it resumes the running machine,\n' +
        'programs and all, instead of booting from the disk. It costs a file about the size of the\n' +
        "guest's used memory. Without it (or with --no-memory) only the disk is kept.",
      check: (args) => (on(args, 'memory') && on(args, 'no-memory') ? 'Give --memory or --no-memory, not both.' : null),
      async run({ args, api }) {
        const memory = on(args, 'memory') ? true : on(args, 'no-memory') ? false : undefined;
        const s = await api.snapshots.create(given({ box: arg(args, 'box'), name: optArg(args, 'name'), description: opt(args, 'description'), memory }));
        const how = s.memory ? ` while the box ran, with its memory (${humanBytes(s.memory.size)})`
          // Asked for and not kept (QEMU refused the migration, the writer failed): said, not hidden.
          : memory && s.live ? ' while the box ran, with its disk only: its memory could not be saved (the log says why)'
          : s.live ? ' while the box ran' : '';
        return output(s, () => `Took snapshot ${q(s.name)} (${s.id})${how}.`);
      },
    },
    {
      usage: 'snapshot list <box>',
      summary: 'Draw the snapshot tree of a box, with "Now" under the snapshot the box continues from.',
      readOnly: true,
      async run({ args, api, now, width }) {
        const tree = await api.snapshots.list({ box: arg(args, 'box') });
        return output(tree, async () => {
          // Two rows from the database, not boxes.get: that walks and measures the whole disk
          // chain, which the tree does not show (and which doubled the command's time).
          const box = (await api.boxes.list()).find((b) => b.id === tree.boxId)!;
          const image = box.imageId === null ? null : (await api.images.list()).find((i) => i.id === box.imageId);
          const base = image ? `${image.name} (image)` : box.installedFrom ? `blank disk (installed from ${box.installedFrom})` : 'blank disk';
          const drawn = snapshotTree(tree, { now, base, maxWidth: width });
          return tree.snapshots.length ? drawn : `${drawn}\n\nNo snapshots yet. Take one with: boxkeep snapshot create ${q(box.name)}`;
        });
      },
    },
    {
      usage: 'snapshot picture <box> <snapshot> --output FILE',
      summary: 'Save the small picture of the screen a snapshot kept (taken while the box ran with a screen).',
      details: '-o FILE is short for --output FILE.',
      kinds: { output: 'path' },
      async run({ args, api }) {
        const picture = await api.snapshots.picture({ box: arg(args, 'box'), snapshot: arg(args, 'snapshot') });
        const file = args.flags.output as string;
        const bytes = savePng(file, picture);
        const value = { snapshotId: picture.snapshotId, width: picture.width, height: picture.height, bytes, file };
        return output(value, () => `Saved the picture of snapshot ${q(arg(args, 'snapshot'))} (${picture.width}×${picture.height}, ${humanBytes(bytes)}) to ${file}.`);
      },
    },
    {
      usage: 'snapshot show <box> <snapshot>',
      summary: 'Show one snapshot: when it was taken, its description, its size and disk file.',
      async run({ args, api, now }) {
        const s = await api.snapshots.get({ box: arg(args, 'box'), snapshot: arg(args, 'snapshot') });
        return output(s, async () => {
          const parent = s.parentId ? await api.snapshots.get({ box: s.boxId, snapshot: s.parentId }) : null;
          const box = (await api.boxes.list()).find((b) => b.id === s.boxId);
          return showSnapshot(s, parent, box, now);
        });
      },
    },
    {
      usage: 'snapshot update <box> <snapshot> [--name N] [--description D]',
      summary: 'Rename a snapshot or change its description. Its disk is not touched.',
      check: (args) =>
        args.flags.name === undefined && args.flags.description === undefined ? 'Nothing to change: give --name, --description or both.' : null,
      async run({ args, api }) {
        const s = await api.snapshots.update(given({ box: arg(args, 'box'), snapshot: arg(args, 'snapshot'), name: opt(args, 'name'), description: opt(args, 'description') }));
        return output(s, () => `Updated snapshot ${q(s.name)} (${s.id}).`);
      },
    },
    {
      usage: 'snapshot restore <box> <snapshot> [--snapshot-current-first] [--discard-current] [--stop-first] [--start-after] [--disk-only]',
      summary: 'Put a box back to a snapshot. What changed since the last snapshot is lost unless --snapshot-current-first.',
      details:
        'The box must be stopped: --stop-first stops it (cleanly), --start-after starts it again once\n' +
        'restored. --snapshot-current-first takes a snapshot of the current state before restoring, so\n' +
        'nothing is lost; --discard-current drops it. With neither, on a terminal, you are asked when\n' +
        'the box has changes since its snapshot; without a terminal (a script) they are discarded.\n' +
        'A snapshot taken after a restore starts a new branch of the tree.\n' +
        'A snapshot with memory is restored running: the machine goes on from that moment. When QEMU\n' +
        "or the box's devices changed since, that is refused; --disk-only restores only its disk.",
      check: (args) =>
        on(args, 'snapshot-current-first') && on(args, 'discard-current') ? 'Give --snapshot-current-first or --discard-current, not both.' : null,
      async run({ args, api, ask }) {
        const box = arg(args, 'box');
        let saveFirst = on(args, 'snapshot-current-first');
        if (!saveFirst && !on(args, 'discard-current') && ask) saveFirst = await askToSave(api, box, ask);
        const r = await api.snapshots.restore(
          given({
            box,
            snapshot: arg(args, 'snapshot'),
            snapshotCurrentFirst: saveFirst || undefined,
            stopFirst: on(args, 'stop-first') || undefined,
            startAfter: on(args, 'start-after') || undefined,
            diskOnly: on(args, 'disk-only') || undefined,
          }),
        );
        return output(r, () =>
          [
            r.savedSnapshot ? `Saved the state before the restore as snapshot ${q(r.savedSnapshot.name)} (${r.savedSnapshot.id}).` : null,
            `Restored box ${q(r.box.name)} to snapshot ${q(r.snapshot.name)} (${r.snapshot.id})${r.snapshot.memory && !on(args, 'disk-only') ? ' with its memory; it is running from that moment' : isActive(r.box.status) ? `; it is ${r.box.status}` : ''}.`,
          ]
            .filter(Boolean)
            .join('\n'),
        );
      },
    },
    ...snapshotPinCommands,
    {
      usage: 'snapshot remove <box> <snapshot> [--yes]',
      summary: 'Remove a snapshot. Its data is merged into what depends on it; no other snapshot changes.',
      details:
        'A pinned snapshot (one AutoProtect never prunes) is removed like any other. On a terminal you\n' +
        'are asked first; --yes removes it without asking, as a script (no terminal) does.',
      async run({ args, api, ask }) {
        const ref = arg(args, 'snapshot');
        if (!on(args, 'yes') && ask) await confirmPinnedRemoval(api, arg(args, 'box'), ref, ask);
        const r = await api.snapshots.remove({ box: arg(args, 'box'), snapshot: ref });
        const moved = [
          ...(r.reparentedIds.length ? [r.reparentedIds.length === 1 ? '1 snapshot' : `${r.reparentedIds.length} snapshots`] : []),
          ...(r.nowReparented ? ['the live disk (Now)'] : []),
        ];
        return output(r, () =>
          `Removed snapshot ${q(ref)} (${r.removedId}); freed ${humanBytes(r.freedBytes)}.` +
          (moved.length ? ` ${capitalised(moved.join(' and '))} now ${r.reparentedIds.length + Number(r.nowReparented) === 1 ? 'hangs' : 'hang'} from its parent.` : ''),
        );
      },
    },
    ...insideCommands,
  ],
};

/**
 * On a terminal, before changes would be lost: ask, as Multipass does. Enter means yes (the
 * answer that loses nothing); Ctrl+D or anything but yes/no cancels with nothing changed.
 */
async function askToSave(api: Api, box: string, ask: (question: string) => Promise<string | null>): Promise<boolean> {
  const d = await api.boxes.get({ box });
  if (!d.nowChanged) return false;
  const current = d.currentSnapshotId ? await api.snapshots.get({ box: d.id, snapshot: d.currentSnapshotId }) : null;
  const since = current ? `since the snapshot ${q(current.name)}` : 'since it was created';
  const answer = await ask(`The box ${q(d.name)} has changes ${since} that the restore would discard.\nSave them as a snapshot first? [Y/n] `);
  const word = answer?.trim().toLowerCase();
  if (word === '' || word === 'y' || word === 'yes') return true;
  if (word === 'n' || word === 'no') return false;
  throw new BoxkeepError('InvalidState', 'Restore cancelled; nothing was changed. Pass --snapshot-current-first or --discard-current to decide without being asked.');
}

/**
 * On a terminal, before a pinned snapshot goes: the pin says "keep this", so ask. Only "y" or
 * "yes" removes it; Enter, Ctrl+D or anything else cancels with nothing changed.
 */
async function confirmPinnedRemoval(api: Api, box: string, snapshot: string, ask: (question: string) => Promise<string | null>): Promise<void> {
  const s = await api.snapshots.get({ box, snapshot });
  if (!s.pinned) return;
  const answer = await ask(`The snapshot ${q(s.name)} is pinned: AutoProtect never removes it.\nRemove it anyway? [y/N] `);
  const word = answer?.trim().toLowerCase();
  if (word === 'y' || word === 'yes') return;
  throw new BoxkeepError('InvalidState', 'Remove cancelled; nothing was changed. Pass --yes to remove a pinned snapshot without being asked.');
}

function showSnapshot(s: Snapshot, parent: Snapshot | null, box: Box | undefined, now: number): string {
  return keyValues([
    ['Snapshot', `${s.name} (${s.id})`],
    ['Box', box ? `${box.name} (${box.id})` : s.boxId],
    ['Taken', `${localTime(s.createdAt)} (${relativeTime(s.createdAt, now)}), ${SNAPSHOT_TAKEN_WORDS[s.taken]}`],
    ['After', parent ? `${parent.name} (${parent.id})` : 'the image (a root snapshot)'],
    ['Description', s.description || '(none)'],
    ['Kept', s.pinned ? 'pinned: AutoProtect never prunes it' : s.auto ? 'taken by AutoProtect: pruned when its retention no longer keeps it (pin it to keep it)' : null],
    ['On disk', humanBytes(s.sizeOnDisk)],
    ['Memory', s.memory ? `${humanBytes(s.memory.size)} (QEMU ${s.memory.qemuVersion}, ${s.memory.machine}): restored running` : null],
    ['Virtual size', humanBytes(s.virtualSize)],
    ['Disk file', s.diskPath],
    ['Picture', s.hasPicture ? `of the screen, saved with "boxkeep snapshot picture ${box?.name ?? s.boxId} ${s.name} -o FILE.png"` : null],
  ]);
}

/** A sentence's first letter. */
const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
