// Top-level commands about the home itself: recovery, diagnostics, versions.
import { parseSize } from '../../../shared/bytes.js';
import type { CheckReport, DiskSpace, RecoveryItem, RecoveryReport, Settings } from '../../../shared/types.js';
import { given, on, opt, optArg, output, type CommandGroup } from '../command.js';
import { humanBytes, keyValues, table } from '../format.js';

export const systemCommands: CommandGroup = {
  name: '',
  title: 'The home',
  commands: [
    {
      usage: 'recover [--discard ID] [--force]',
      summary: 'Finish or undo operations a crash interrupted, and check the home against its disks.',
      details:
        'Every command already does this when it opens the home; `recover` reports what was done,\n' +
        'including what opening the home for this command repaired.\n\n' +
        'An operation recovery cannot settle (one a newer Boxkeep wrote) keeps its box from\n' +
        'changing; the report names its record. --discard ID deletes that record and nothing\n' +
        'else: the operation is neither finished nor undone and its files stay as they are;\n' +
        'recovery\'s checks, which run whenever the home is opened, move what no record knows\n' +
        '(a snapshot folder without a snapshot) into <home>/orphans/ unless a disk needs it.\n' +
        'A record this build knows how to settle is refused without --force: discarding one\n' +
        'halfway through (a half-merged snapshot) can leave a disk chain nothing repairs.',
      check: (args) => (on(args, 'force') && !opt(args, 'discard') ? '--force only goes with --discard ID.' : null),
      showsRecovery: true,
      async run({ args, api, openedWith }) {
        const ran = await api.recovery.run(given({ discard: opt(args, 'discard'), force: on(args, 'force') || undefined }));
        // Opening the home in this process already ran recovery; what it did belongs to the answer.
        const report = openedWith && openedWith.items.length ? merge(openedWith, ran) : ran;
        return output(report, () => recoveryText(report));
      },
    },
    {
      usage: 'check [<box>]',
      summary: 'Verify every disk chain (or one box\'s) and name the damaged snapshots.',
      details:
        'Each layer must be the file Boxkeep made inside the home (no symlinks, the recorded backing\n' +
        'file and format), match the size and header recorded when it was frozen, and pass\n' +
        '`qemu-img check`; a UEFI box\'s variables (its own and each snapshot\'s copy) must be there, no\n' +
        'link, OVMF\'s size. Reads only. Exit code 0: all good; 1: damage found (the table, or --json,\n' +
        'names it); other codes as for every command.',
      async run({ api, args }) {
        const box = optArg(args, 'box');
        const report = await api.system.check(box === undefined ? {} : { box });
        return { ...output(report, () => checkText(report)), exitCode: report.ok ? 0 : CHECK_DAMAGE_EXIT };
      },
    },
    {
      usage: 'info',
      summary: 'Show the home, the version, and how boxes will run (accelerator, QEMU version).',
      async run({ api }) {
        const info = await api.system.info();
        return output(info, () =>
          keyValues([
            ['Home', info.home],
            ['Boxkeep', info.version],
            ['QEMU', info.qemuVersion ?? 'not found (install qemu-system-x86, e.g. "sudo apt-get install qemu-system-x86")'],
            ['Accelerator', info.accelerator === 'unknown' ? 'decided when the first box starts (KVM if it works here, else software emulation)' : info.accelerator],
            ['Free space', spaceText(info.space)],
          ]),
        );
      },
    },
    {
      usage: 'settings [--disk-reserve SIZE]',
      summary: 'Show the settings, or change them.',
      details:
        '--disk-reserve SIZE: free space on the home\'s disk that no operation may use up (2G, 500M, 0 for none,\n' +
        'or "default": the larger of 2 GiB and 5 % of the filesystem). An operation that would leave less is refused.',
      check(args) {
        const value = args.flags['disk-reserve'];
        if (value === undefined || value === 'default' || parseSize(String(value)) !== null) return null;
        return `--disk-reserve takes a size like 2G, 500M or 0 (or "default"), not ${JSON.stringify(value)}.`;
      },
      async run({ args, api }) {
        const reserve = opt(args, 'disk-reserve');
        const settings = reserve === undefined ? await api.settings.get() : await api.settings.update({ diskReserve: reserve === 'default' ? 'default' : parseSize(reserve)! });
        return output(settings, () => settingsText(settings));
      },
    },
    {
      usage: 'debug crash-points',
      summary: 'List the points where BOXKEEP_CRASH_AT=<point> kills the process, for crash tests.',
      async run({ api }) {
        const points = await api.debug.crashPoints();
        return output(points, () => points.join('\n'));
      },
    },
  ],
};

/** `check` found damage: the same code as a storage error, since that is what it is. */
export const CHECK_DAMAGE_EXIT = 1;

export function checkText(report: CheckReport): string {
  const layers = report.boxes.reduce((n, b) => n + b.layers.length, 0);
  if (report.ok) return `All good: ${layers} disk layer${layers === 1 ? '' : 's'} of ${report.boxes.length} box${report.boxes.length === 1 ? '' : 'es'} checked in ${Math.round(report.elapsedMs)} ms.`;
  const rows = report.boxes.flatMap((b) => b.layers.filter((l) => !l.ok).map((l) => [b.box, l.kind, l.name, l.problems.join('; ')]));
  return `${report.damaged} damaged disk layer${report.damaged === 1 ? '' : 's'} (of ${layers}):\n` + table(['BOX', 'LAYER', 'NAME', 'PROBLEM'], rows) +
    '\nBoxkeep refuses to start, restore or merge through these. Put back the files Boxkeep made (from a backup) and run "boxkeep check" again.';
}

/**
 * The opening's report and the command's. What neither run could settle (a record kept for a
 * newer build) is found by both: say it once.
 */
function merge(first: RecoveryReport, second: RecoveryReport): RecoveryReport {
  const key = (i: RecoveryItem) => `${i.level}\0${i.boxId ?? ''}\0${i.message}`;
  const seen = new Set(first.items.map(key));
  return { at: first.at, elapsedMs: first.elapsedMs + second.elapsedMs, items: [...first.items, ...second.items.filter((i) => !seen.has(key(i)))] };
}

export function recoveryText(report: RecoveryReport): string {
  if (report.items.length === 0) return `Nothing to recover: the home is consistent (checked in ${Math.round(report.elapsedMs)} ms).`;
  const rows = report.items.map((item) => [item.level, item.boxId ?? '', item.message]);
  return `Recovery (${Math.round(report.elapsedMs)} ms):\n` + table(['RESULT', 'BOX', 'WHAT'], rows);
}

function spaceText(space: DiskSpace): string {
  const low = space.free < space.reserve ? ' (below the reserve: free some space)' : '';
  return `${humanBytes(space.free)} of ${humanBytes(space.total)} free; ${humanBytes(space.reserve)} kept in reserve${low}`;
}

function settingsText(settings: Settings): string {
  const reserve = settings.diskReserve === null ? `${humanBytes(settings.space.reserve)} (the default)` : humanBytes(settings.diskReserve);
  return keyValues([
    ['Disk reserve', reserve],
    ['Free space', spaceText(settings.space)],
  ]);
}
