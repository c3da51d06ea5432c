// AutoProtect on the command line: `box protect` (a box's policy), `snapshot pin|unpin`, and
// the lines `box show` prints about the schedule.
import { describePolicy, parseMinutes, untilText } from '../../shared/protect.js';
import type { ProtectStatus } from '../../shared/types.js';
import type { ParsedArgs } from './args.js';
import { arg, given, num, on, opt, output, type Command } from './command.js';

const KEEPS = ['keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly'] as const;
const SCHEDULE_FLAGS = ['every', 'daily', 'before-stop', 'preset', ...KEEPS];

/** The policy's words and when the next automatic snapshot comes, for `box protect` and `box show`. */
export function protectText(s: ProtectStatus, now: number): string {
  if (!s.policy.enabled) return 'off';
  const next = s.pausedReason ? `paused: ${s.pausedReason}` : s.nextRunAt !== null ? `next automatic snapshot ${untilText(s.nextRunAt, now)}` : 'next automatic snapshot once the box runs';
  return `${describePolicy(s.policy)}; ${next}${s.lastError ? `; the last one failed: ${s.lastError}` : ''}`;
}

/** check() has refused a text that is no duration; the schema checks the range. */
function everyMinutes(args: ParsedArgs): number | undefined {
  const text = opt(args, 'every');
  return text === undefined ? undefined : parseMinutes(text)!;
}

export const boxProtectCommand: Command = {
  usage: 'box protect <box> [--preset] [--off] [--every DURATION] [--daily HH:MM] [--before-stop] [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N]',
  summary: 'Take snapshots of a box on a schedule (AutoProtect) and prune the old automatic ones.',
  details:
    '--every DURATION (such as 30m, 2h, 1h30m; at least 1m) counts the time the box runs; --daily HH:MM\n' +
    'takes one each day at that local time while it runs; --before-stop takes one before each "box stop".\n' +
    'The --keep-* counts say which automatic snapshots stay, as restic\'s forget: the last N, and the newest of\n' +
    'each of the last N hours, days, weeks, months. Only automatic snapshots are pruned, never a pinned one\n' +
    '("snapshot pin") or the one the box continues from; with no --keep-* none is pruned. The flags given\n' +
    'make the whole policy; --preset starts from hourly, before each stop, keeping 5 last, 24 hourly, 7\n' +
    'daily, 4 weekly, 6 monthly. --off turns it off. The schedule runs while the app or "boxkeep serve" runs;\n' +
    'a box overdue when it is next seen running gets one snapshot, not one per missed run.',
  kinds: Object.fromEntries(KEEPS.map((k) => [k, 'int'])),
  check(args) {
    if (on(args, 'off') && SCHEDULE_FLAGS.some((f) => args.flags[f] !== undefined)) return '--off turns AutoProtect off; give it alone.';
    if (!on(args, 'off') && !SCHEDULE_FLAGS.some((f) => args.flags[f] !== undefined)) return 'Say what to do: --preset, --every, --daily, --before-stop (with --keep-* counts), or --off.';
    const every = opt(args, 'every');
    if (every !== undefined && parseMinutes(every) === null) return `--every ${JSON.stringify(every.slice(0, 20))} is not a duration; write it as 30m, 2h or 1h30m.`;
    return null;
  },
  async run({ args, api, now }) {
    const status = await api.protect.set(given({
      box: arg(args, 'box'), off: on(args, 'off') || undefined, preset: on(args, 'preset') || undefined,
      everyMinutes: everyMinutes(args), dailyAt: opt(args, 'daily'), beforeStop: on(args, 'before-stop') || undefined,
      keepLast: num(args, 'keep-last'), keepHourly: num(args, 'keep-hourly'), keepDaily: num(args, 'keep-daily'),
      keepWeekly: num(args, 'keep-weekly'), keepMonthly: num(args, 'keep-monthly'),
    }));
    return output(status, () => `AutoProtect of ${JSON.stringify(arg(args, 'box'))}: ${protectText(status, now)}.`);
  },
};

const pin = (verb: 'pin' | 'unpin'): Command => ({
  usage: `snapshot ${verb} <box> <snapshot>`,
  summary: verb === 'pin' ? 'Pin a snapshot: AutoProtect\'s pruning never removes it.' : 'Unpin a snapshot: an automatic one may be pruned again.',
  async run({ args, api }) {
    const s = await api.snapshots[verb]({ box: arg(args, 'box'), snapshot: arg(args, 'snapshot') });
    return output(s, () => `Snapshot ${JSON.stringify(s.name)} (${s.id}) is ${s.pinned ? 'pinned: pruning never removes it' : 'not pinned'}.`);
  },
});

export const snapshotPinCommands: Command[] = [pin('pin'), pin('unpin')];
