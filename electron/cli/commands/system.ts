// Top-level commands about the home itself: recovery, diagnostics, versions.
import { parseSize } from '../../../shared/bytes.js';
import type { DiskSpace, RecoveryReport, Settings } from '../../../shared/types.js';
import { opt, outcome, type CommandGroup } from '../command.js';
import { humanBytes, keyValues, table } from '../format.js';

export const systemCommands: CommandGroup = {
  name: '',
  title: 'The home',
  commands: [
    {
      usage: 'recover',
      summary: 'Finish or undo operations a crash interrupted, and check the home against its disks.',
      details:
        'Every command already does this when it opens the home; `recover` reports what was done,\n' +
        'including what opening the home for this command repaired.',
      showsRecovery: true,
      async run({ api, openedWith }) {
        const ran = await api.recovery.run();
        // Opening the home in this process already ran recovery; what it did belongs to the answer.
        const report = openedWith && openedWith.items.length ? merge(openedWith, ran) : ran;
        return outcome(report, () => recoveryText(report));
      },
    },
    {
      usage: 'info',
      summary: 'Show the home, the version, and how boxes will run (accelerator, QEMU version).',
      async run({ api }) {
        const info = await api.system.info();
        return outcome(info, () =>
          keyValues([
            ['Home', info.home],
            ['Boxkeep', info.version],
            ['QEMU', info.qemuVersion ?? 'not found'],
            ['Accelerator', info.accelerator],
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
        return outcome(settings, () => settingsText(settings));
      },
    },
    {
      usage: 'debug crash-points',
      summary: 'List the points where BOXKEEP_CRASH_AT=<point> kills the process, for crash tests.',
      async run({ api }) {
        const points = await api.debug.crashPoints();
        return outcome(points, () => points.join('\n'));
      },
    },
  ],
};

function merge(first: RecoveryReport, second: RecoveryReport): RecoveryReport {
  return { at: first.at, elapsedMs: first.elapsedMs + second.elapsedMs, items: [...first.items, ...second.items] };
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
