// Top-level commands about the home itself: recovery, diagnostics, versions.
import type { RecoveryReport } from '../../../shared/types.js';
import { outcome, type CommandGroup } from '../command.js';
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
      usage: 'info',
      summary: 'Show the home, the version, and how boxes will run (accelerator, QEMU version).',
      async run({ api }) {
        const info = await api.system.info();
        return outcome(info, () =>
          keyValues([
            ['Home', info.home],
            ['Boxkeep', info.version],
            ['QEMU', info.qemuVersion ?? 'not found (install qemu-system-x86, e.g. "sudo apt-get install qemu-system-x86")'],
            ['Accelerator', info.accelerator === 'unknown' ? 'decided when the first box starts (KVM if it works here, else software emulation)' : info.accelerator],
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

function merge(first: RecoveryReport, second: RecoveryReport): RecoveryReport {
  return { at: first.at, elapsedMs: first.elapsedMs + second.elapsedMs, items: [...first.items, ...second.items] };
}

export function recoveryText(report: RecoveryReport): string {
  if (report.items.length === 0) return `Nothing to recover: the home is consistent (checked in ${Math.round(report.elapsedMs)} ms).`;
  const rows = report.items.map((item) => [item.level, item.boxId ?? '', item.message]);
  return `Recovery (${Math.round(report.elapsedMs)} ms):\n` + table(['RESULT', 'BOX', 'WHAT'], rows);
}
