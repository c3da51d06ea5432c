// Top-level commands about the home itself: recovery, diagnostics, versions.
import type { CheckReport, RecoveryReport } from '../../../shared/types.js';
import { optArg, outcome, type CommandGroup } from '../command.js';
import { keyValues, table } from '../format.js';

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
      usage: 'check [<box>]',
      summary: 'Verify every disk chain (or one box\'s) and name the damaged snapshots.',
      details:
        'Each layer must be the file Boxkeep made inside the home (no symlinks, the recorded backing\n' +
        'file and format), match the size and header recorded when it was frozen, and pass\n' +
        '`qemu-img check`. Reads only. Exit code 0: all good; 1: damage found (the table, or --json,\n' +
        'names it); other codes as for every command.',
      async run({ api, args }) {
        const box = optArg(args, 'box');
        const report = await api.system.check(box === undefined ? {} : { box });
        return { ...outcome(report, () => checkText(report)), exitCode: report.ok ? 0 : CHECK_DAMAGE_EXIT };
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
          ]),
        );
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

/** `check` found damage: the same code as a storage error, since that is what it is. */
export const CHECK_DAMAGE_EXIT = 1;

export function checkText(report: CheckReport): string {
  const layers = report.boxes.reduce((n, b) => n + b.layers.length, 0);
  if (report.ok) return `All good: ${layers} disk layer${layers === 1 ? '' : 's'} of ${report.boxes.length} box${report.boxes.length === 1 ? '' : 'es'} checked in ${Math.round(report.elapsedMs)} ms.`;
  const rows = report.boxes.flatMap((b) => b.layers.filter((l) => !l.ok).map((l) => [b.box, l.kind, l.name, l.problems.join('; ')]));
  return `${report.damaged} damaged disk layer${report.damaged === 1 ? '' : 's'} (of ${layers}):\n` + table(['BOX', 'LAYER', 'NAME', 'PROBLEM'], rows) +
    '\nBoxkeep refuses to start, restore or merge through these. Put back the files Boxkeep made (from a backup) and run "boxkeep check" again.';
}

function merge(first: RecoveryReport, second: RecoveryReport): RecoveryReport {
  return { at: first.at, elapsedMs: first.elapsedMs + second.elapsedMs, items: [...first.items, ...second.items] };
}

export function recoveryText(report: RecoveryReport): string {
  if (report.items.length === 0) return `Nothing to recover: the home is consistent (checked in ${Math.round(report.elapsedMs)} ms).`;
  const rows = report.items.map((item) => [item.level, item.boxId ?? '', item.message]);
  return `Recovery (${Math.round(report.elapsedMs)} ms):\n` + table(['RESULT', 'BOX', 'WHAT'], rows);
}
