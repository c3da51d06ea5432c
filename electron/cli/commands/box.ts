// boxkeep box …: create, inspect, rename and remove boxes, and run them.
import { BoxkeepError } from '../../../shared/errors.js';
import { formatForward, sshCommand, sshForward } from '../../../shared/forwards.js';
import { BY_ITSELF, type Box, type BoxDetail, type CloudInit, type DiskLayer, type DisplayMode, type Firmware, type NetworkMode, type UnsettledSnapshot } from '../../../shared/types.js';
import type { ParsedArgs } from '../args.js';
import { attach, attachOutcome } from '../attach.js';
import { arg, given, num, on, opt, output, type Command, type CommandGroup } from '../command.js';
import { savePngStream } from '../png-file.js';
import { clean, humanBytes, keyValues, localTime, relativeTime, table } from '../format.js';
import { boxProtectCommand, protectText } from '../protect-commands.js';
import { archiveCommands, cloneCommand } from './box-copies.js';
import { CLOUD_INIT_HELP, CLOUD_INIT_KINDS, CLOUD_INIT_USAGE, cloudInitFields, cloudInitProblem } from '../cloud-init-flags.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The flags box create and box set share, as channel fields (the schema checks their values). */
const settingFlags = (args: ParsedArgs) => ({
  diskSizeGiB: num(args, 'disk-size'), memoryMib: num(args, 'memory'), cpus: num(args, 'cpus'),
  network: opt(args, 'network') as NetworkMode | undefined, forwards: args.flags.forward as string[] | undefined,
  stopTimeoutSec: num(args, 'stop-timeout'), display: opt(args, 'display') as DisplayMode | undefined,
});
const SETTING_KINDS = { 'disk-size': 'int', memory: 'int', cpus: 'int', 'stop-timeout': 'int' } as const;
const FORWARD_HELP =
  '--forward [ADDRESS:]HOSTPORT:GUESTPORT[/tcp|udp] forwards a host port into the guest (host address\n' +
  '127.0.0.1 unless given; repeat it for more). --network none gives the box no network card at all.\n' +
  '--display vnc gives the box a screen (VGA, a USB tablet, QEMU\'s VNC server on a socket in its run\n' +
  'folder; no TCP port), --display none leaves it out. Default: vnc, or none for an image with a kernel.';

const networkText = (b: Box) =>
  b.network === 'none'
    ? `none (no network card${b.forwards.length ? `; the forwards ${b.forwards.map(formatForward).join(', ')} wait, unused, until the network is nat` : ''})`
    : `nat${b.forwards.length ? `, forwards ${b.forwards.map(formatForward).join(', ')}` : ''}`;

const settingsText = (b: Box) =>
  `${plural(b.cpus, 'CPU')}, ${b.memoryMib} MiB memory, ${humanBytes(b.diskSize)} disk${b.pendingDiskSize !== null ? ` (${humanBytes(b.pendingDiskSize)} at the next start)` : ''}, network ${networkText(b)}, stop timeout ${b.stopTimeoutSec} s, display ${b.display}`;

/** start / pause / resume: one box in, the box in its new state out. */
const stateChange = (verb: 'start' | 'pause' | 'resume', summary: string): Command => ({
  usage: `box ${verb} <box>`,
  summary,
  async run({ args, api }) {
    const box = await api.boxes[verb]({ box: arg(args, 'box') });
    return output(box, () => `Box ${JSON.stringify(box.name)} is ${box.status}.`);
  },
});

export const boxCommands: CommandGroup = {
  name: 'box',
  title: 'Boxes',
  commands: [
    {
      usage: `box create <name> --image <image> [--disk-size GiB] [--memory MiB] [--cpus N] [--network nat|none] [--forward SPEC]... [--stop-timeout SEC] [--display vnc|none] [--firmware bios|uefi] ${CLOUD_INIT_USAGE}`,
      summary: 'Create a box on top of an imported image, or on a blank disk for installer media.',
      details:
        'The disk starts as the image and only the box\'s own changes take space. --disk-size grows the\n' +
        'virtual disk (never below the image\'s size); --memory and --cpus set what the box runs with.\n' +
        'From installer media (an imported ISO) the box gets a blank disk of --disk-size GiB (required)\n' +
        'and boots from the ISO first, until "boxkeep box eject" takes it out.\n' +
        FORWARD_HELP + '\n--stop-timeout is how long "box stop" waits for the guest to shut down (20 s unless given).\n' +
        '--firmware uefi boots through OVMF (Debian\'s ovmf package) with the box\'s own UEFI variables, which\n' +
        'each snapshot keeps and a restore puts back; bios (SeaBIOS) unless given.\n' +
        CLOUD_INIT_HELP,
      kinds: { ...SETTING_KINDS, ...CLOUD_INIT_KINDS },
      check: cloudInitProblem,
      async run({ args, api }) {
        const box = await api.boxes.create(given({ name: arg(args, 'name'), image: args.flags.image as string, ...settingFlags(args), ...cloudInitFields(args), firmware: opt(args, 'firmware') as Firmware | undefined }));
        return output(box, () => `Created box ${JSON.stringify(box.name)} (${box.id}): ${settingsText(box)}.`);
      },
    },
    {
      usage: 'box set <box> [--cpus N] [--memory MiB] [--disk-size GiB] [--network nat|none] [--forward SPEC]... [--no-forwards] [--stop-timeout SEC] [--display vnc|none]',
      summary: 'Change the settings of a box; a running box gets them at its next start.',
      details:
        'Only what is given changes. The disk only grows (shrinking would cut off data); a running box\'s disk\n' +
        'grows at its next start. --forward replaces all the forwards with the ones given; --no-forwards removes them.\n' +
        FORWARD_HELP,
      kinds: SETTING_KINDS,
      check(args) {
        if (args.flags.forward !== undefined && on(args, 'no-forwards')) return 'Give --forward or --no-forwards, not both.';
        const any = Object.values(args.flags).some((value) => value !== undefined);
        return !any ? 'Nothing to change: give at least one of --cpus, --memory, --disk-size, --network, --forward, --no-forwards, --stop-timeout, --display.' : null;
      },
      async run({ args, api }) {
        const settings = settingFlags(args);
        const box = await api.boxes.update(given({ box: arg(args, 'box'), ...settings, forwards: on(args, 'no-forwards') ? [] : settings.forwards }));
        const when = box.pendingRestart ? ` The box is ${box.status}: this applies at the next start.` : '';
        return output(box, () => `Box ${JSON.stringify(box.name)}: ${settingsText(box)}.${when}`);
      },
    },
    {
      usage: 'box list',
      summary: 'List the boxes and their state.',
      readOnly: true,
      async run({ api, now, width }) {
        const boxes = await api.boxes.list();
        return output(boxes, () => (boxes.length ? boxTable(boxes, now, width) : 'No boxes yet. Create one with: boxkeep box create <name> --image <image>'));
      },
    },
    {
      usage: 'box show <box>',
      summary: 'Show one box: its state, settings, space used and the chain of disk files under it.',
      async run({ args, api, now }) {
        const detail = await api.boxes.get({ box: arg(args, 'box') });
        return output(detail, async () => {
          // The detail names snapshots by id; people know them by name.
          const tree = await api.snapshots.list({ box: detail.id });
          const protect = await api.protect.get({ box: detail.id });
          return showBox(detail, new Map(tree.snapshots.map((s) => [s.id, s.name])), now, protectText(protect, now));
        });
      },
    },
    {
      usage: 'box rename <box> <name>',
      summary: 'Give a box a new name.',
      async run({ args, api }) {
        const box = await api.boxes.rename({ box: arg(args, 'box'), name: arg(args, 'name') });
        return output(box, () => `Renamed box ${box.id} to ${JSON.stringify(box.name)}.`);
      },
    },
    {
      usage: 'box remove <box>',
      summary: 'Remove a stopped box with all its snapshots. This cannot be undone.',
      async run({ args, api }) {
        const ref = arg(args, 'box');
        const result = await api.boxes.remove({ box: ref });
        return output(result, () => `Removed box ${JSON.stringify(result.removedName ?? ref)} (${result.removedId}) and its snapshots; freed ${humanBytes(result.freedBytes)}.`);
      },
    },
    boxProtectCommand,
    stateChange('start', 'Start a box.'),
    {
      usage: 'box stop <box> [--force]',
      summary: 'Stop a running box: the guest shuts down cleanly, or with --force it is cut off at once.',
      async run({ args, api }) {
        const box = await api.boxes.stop(given({ box: arg(args, 'box'), force: on(args, 'force') || undefined }));
        const how = !box.forced ? 'the guest shut down cleanly' : on(args, 'force') ? 'forced, as asked' : 'forced: the guest did not shut down within the stop timeout';
        return output(box, () => `Box ${JSON.stringify(box.name)} is ${box.status} (${how}).`);
      },
    },
    {
      usage: 'box eject <box>',
      summary: 'Take the installer media out of a box (at once if it runs); it then boots from its disk.',
      async run({ args, api }) {
        const box = await api.boxes.ejectInstaller({ box: arg(args, 'box') });
        return output(box, () => `Ejected the installer of box ${JSON.stringify(box.name)}; it boots from its disk from now on.`);
      },
    },
    {
      usage: 'box screenshot <box> --output FILE',
      summary: 'Save a PNG of the screen of a running box (one with --display vnc).',
      details: '-o FILE is short for --output FILE. Any screen, up to a PNG of 64 MiB; FILE is replaced only once the\n' +
        'whole picture arrived. With --json it prints the picture\'s size and where it went.',
      kinds: { output: 'path' },
      async run({ args, api }) {
        // A stream, not boxes:screenshot: a desktop's PNG is often past what one message may carry.
        const ref = arg(args, 'box');
        const file = args.flags.output as string;
        const { id: boxId } = await api.boxes.get({ box: ref });
        const shot = await savePngStream(file, () => api.displays.screenshot({ box: ref }), `the box ${JSON.stringify(ref)}`);
        const value = { boxId, width: shot.width, height: shot.height, bytes: shot.bytes, file, takenAt: Date.now() };
        return output(value, () => `Saved the screen of box ${JSON.stringify(ref)} (${shot.width}×${shot.height}, ${humanBytes(shot.bytes)}) to ${file}.`);
      },
    },
    stateChange('pause', 'Pause a running box (it keeps its memory; resume continues it).'),
    stateChange('resume', 'Resume a paused box.'),
    {
      usage: 'box console <box> [--lines N] [--attach] [--linger SEC]',
      summary: 'Print the last lines the box wrote to its serial console (200 unless --lines says), or with --attach join its terminal.',
      details:
        '--attach joins the running box\'s serial terminal. On a terminal every key goes to the guest\n' +
        '(raw mode) and Ctrl-] detaches. Otherwise it sends what stdin gives, prints what the guest\n' +
        'answers, and exits --linger seconds (default 1) after stdin ends:\n' +
        '  printf \'uname -a\\n\' | boxkeep box console mybox --attach\n' +
        'With the app (or `boxkeep serve`) running it joins through it; otherwise this command owns\n' +
        'the home while attached, and other boxkeep commands go through it.',
      kinds: { lines: 'int' },
      check(args) {
        if (on(args, 'attach') && args.flags.lines !== undefined) return '--lines prints the tail; --attach joins the live terminal. Give one of them.';
        const linger = opt(args, 'linger');
        if (linger !== undefined && !on(args, 'attach')) return '--linger goes with --attach.';
        if (linger !== undefined && lingerMs(linger) === null) return `--linger must be a number of seconds from 0 to 3600, not ${JSON.stringify(linger.slice(0, 20))}.`;
        return null;
      },
      async run({ args, api, terminal }) {
        if (!on(args, 'attach')) {
          const out = await api.boxes.console(given({ box: arg(args, 'box'), lines: num(args, 'lines') }));
          // Guest output is untrusted: escape sequences in it must not drive the user's terminal.
          return output(out, () => (out.lines.length === 0 ? '(The box has written nothing to its serial console yet.)' : out.lines.map(clean).join('\n')));
        }
        if (!terminal) throw new BoxkeepError('InvalidState', 'box console --attach needs this process\'s own stdin and stdout.');
        const ref = arg(args, 'box');
        const stream = await api.consoles.open({ box: ref });
        const term = terminal();
        const label = `the box ${JSON.stringify(ref)}`;
        const end = await attach(stream, term, { label, lingerMs: lingerMs(opt(args, 'linger') ?? '1')! });
        const { message, exitCode } = attachOutcome(end, label);
        if (message) term.note(`\nboxkeep: ${message}\n`);
        return { value: null, text: () => '', exitCode, silent: true };
      },
    },
    cloneCommand,
    ...archiveCommands,
  ],
};

const cloudInitText = (c: CloudInit) =>
  `user ${c.user} (sudo), ${plural(c.sshKeys.length, 'SSH key')}, ${c.password ? 'a password (kept as a SHA-512 hash)' : 'no password'}, host name ${c.hostname}; seed on a read-only CD-ROM`;

function lingerMs(text: string): number | null {
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  return seconds >= 0 && seconds <= 3600 ? Math.round(seconds * 1000) : null;
}

function boxTable(boxes: Box[], now: number, width: number | undefined): string {
  return table(
    ['ID', 'NAME', 'STATUS', 'CPUS', 'MEMORY', 'DISK', 'CREATED'],
    boxes.map((b) => [b.id, b.name, b.status, String(b.cpus), `${b.memoryMib} MiB`, humanBytes(b.diskSize), relativeTime(b.createdAt, now)]),
    { align: ['left', 'left', 'left', 'right', 'right', 'right'], maxWidth: width, flex: 1 },
  );
}

function unsettledText(u: UnsettledSnapshot, now: number): string {
  const asked = `asked for ${relativeTime(u.since, now)}`;
  return u.kind === 'removal'
    ? `deleting ${u.snapshotName === null ? 'a snapshot' : `the snapshot ${JSON.stringify(u.snapshotName)}`} (${asked}) stopped after its data began to merge; every other snapshot is intact. ` +
      `The box takes no changes until it is finished; Boxkeep finishes it by itself (${BY_ITSELF}), or now with "boxkeep recover".`
    : `the live snapshot ${JSON.stringify(u.snapshotName)} (${asked}): QEMU (pid ${u.qemuPid}) does not answer. ` +
      `The box takes no changes until it is settled; Boxkeep settles it when QEMU answers or exits (${BY_ITSELF}), or now with "boxkeep recover".`;
}

function showBox(d: BoxDetail, names: Map<string, string>, now: number, protect: string): string {
  const named = (id: string) => `${JSON.stringify(names.get(id) ?? '?')} (${id})`;
  const head = keyValues([
    ['Box', `${d.name} (${d.id})`],
    ['Status', d.status],
    ['Failure', d.failureReason],
    ['Unsettled', d.unsettled ? unsettledText(d.unsettled, now) : null],
    ['Image', d.image ? `${d.image.name} (${d.image.id})` : `none: made from installer media${d.installedFrom ? ` (${d.installedFrom})` : ''}, the disk started blank`],
    ['Firmware', d.firmware === 'uefi' ? 'UEFI (OVMF), with the box\'s own variables, kept by each snapshot' : 'BIOS (SeaBIOS)'],
    ['Installer', d.installerImageId ? `attached as a CD-ROM, booted first (eject it with "boxkeep box eject ${d.name}")` : null],
    ['CPUs', String(d.cpus)],
    ['Memory', `${d.memoryMib} MiB`],
    ['Disk', `${humanBytes(d.diskSize)} virtual${d.pendingDiskSize !== null ? ` (grows to ${humanBytes(d.pendingDiskSize)} at the next start)` : ''}, ${humanBytes(d.spaceUsed)} used by the box and its snapshots`],
    ['Network', d.network === 'none' ? 'none: this box has no network card' : `nat (QEMU user network), card ${d.macAddress}`],
    ['Forwards', d.network === 'none' ? (d.forwards.length ? `${d.forwards.map(formatForward).join(', ')} (unused while the network is none)` : null) : d.forwards.length ? d.forwards.map(formatForward).join(', ') : 'none'],
    ['Cloud-init', d.cloudInit ? cloudInitText(d.cloudInit) : null],
    ['SSH', d.network === 'nat' && sshForward(d.forwards) ? sshCommand(sshForward(d.forwards)!, d.cloudInit?.user) : null],
    ['Display', d.display === 'vnc' ? 'vnc: a screen (VNC on a local socket; "boxkeep box screenshot" saves it)' : 'none: this box has no screen'],
    ['Stopping', `waits ${d.stopTimeoutSec} s for the guest to shut down, then cuts it off`],
    ['Pending', d.pendingRestart ? 'changed settings apply at the next start' : null],
    ['AutoProtect', protect],
    ['Snapshots', d.snapshotCount ? `${d.snapshotCount}; now after ${d.currentSnapshotId ? named(d.currentSnapshotId) : d.image ? 'the image itself' : 'the blank disk'}` : 'none yet'],
    ['Live disk', d.liveDiskPath],
    ['Created', `${localTime(d.createdAt)} (${relativeTime(d.createdAt, now)})`],
  ]);
  // Paths are left whole: they are what people copy out of this view.
  const chain = table(
    ['LAYER', 'NAME', 'ON DISK', 'FILE'],
    d.chain.map((l) => [l.kind, layerName(d, l), humanBytes(l.sizeOnDisk), l.path]),
    { align: ['left', 'left', 'right', 'left'] },
  );
  return `${head}\n\nDisk chain, live disk first:\n${chain}`;
}

/** A snapshot by name ("s1 of b1" when it is the source box's, under a linked clone), the image by its name. */
function layerName(d: BoxDetail, l: DiskLayer): string {
  if (l.kind === 'image') return d.image?.name ?? '';
  if (!l.snapshotId) return '';
  const name = l.snapshotName ?? l.snapshotId;
  return l.ofBox ? `${name} of ${l.ofBox.name}` : name;
}
