// Finding the command a command line names, and the help texts. Both read the same tables
// (commands/index.ts), so a command cannot exist without help or help without a command.
import { UsageError, closest, parseUsage, type Signature } from './args.js';
import type { Command, CommandGroup } from './command.js';
import { groups } from './commands/index.js';

export const TOP_USAGE = 'boxkeep [--home DIR] [--json] <command>';

export interface Entry {
  group: CommandGroup;
  command: Command;
  sig: Signature;
  /** `boxkeep ` + the command's usage line. */
  usage: string;
}

const entries: Entry[] = groups.flatMap((group) =>
  group.commands.map((command) => ({ group, command, sig: parseUsage(command.usage), usage: `boxkeep ${command.usage}` })),
);

export type Resolved = { kind: 'command'; entry: Entry; tokens: string[] } | { kind: 'help'; text: string };

/**
 * Reads the command words at the front of `rest` (what is left after the global options).
 * `help` is true when --help or -h was given anywhere.
 */
export function resolve(rest: string[], help: boolean, home: string): Resolved {
  if (rest[0] === 'help') return { kind: 'help', text: helpFor(rest.slice(1).filter((w) => !w.startsWith('-')), home) };
  if (rest.length === 0) {
    if (help) return { kind: 'help', text: overallHelp(home) };
    throw new UsageError('No command given. Run "boxkeep help" to see the commands.', TOP_USAGE);
  }
  const entry = match(rest);
  if (entry) {
    if (help) return { kind: 'help', text: commandHelp(entry) };
    return { kind: 'command', entry, tokens: rest.slice(entry.sig.words.length) };
  }
  const group = groups.find((g) => g.name !== '' && g.name === rest[0]);
  if (group) {
    const verbs = entries.filter((e) => e.group === group).map((e) => e.sig.words.slice(1).join(' '));
    if (help) return { kind: 'help', text: groupHelp(group) };
    if (rest.length === 1 || rest[1].startsWith('-')) {
      throw new UsageError(`"${group.name}" needs a command: ${verbs.join(', ')}.`, `boxkeep ${group.name} <command>`);
    }
    const guess = closest(rest[1], verbs);
    throw new UsageError(
      `Unknown command "${group.name} ${clip(rest[1])}"` +
        (guess ? ` (did you mean "${group.name} ${guess}"?).` : `; the ${group.name} commands are ${verbs.join(', ')}.`),
      `boxkeep ${group.name} <command>`,
    );
  }
  const names = [...new Set(entries.map((e) => e.sig.words[0]))];
  const guess = closest(rest[0], names);
  throw new UsageError(
    `Unknown command "${clip(rest[0])}"${guess ? ` (did you mean "${guess}"?)` : ''}. Run "boxkeep help" to see the commands.`,
    TOP_USAGE,
  );
}

const clip = (word: string) => (word.length > 40 ? word.slice(0, 40) + '…' : word);

function match(rest: string[]): Entry | undefined {
  let best: Entry | undefined;
  for (const e of entries) {
    if (e.sig.words.every((w, i) => rest[i] === w) && (!best || e.sig.words.length > best.sig.words.length)) best = e;
  }
  return best;
}

function helpFor(words: string[], home: string): string {
  if (words.length === 0) return overallHelp(home);
  const entry = match(words);
  if (entry && entry.sig.words.length === words.length) return commandHelp(entry);
  const group = groups.find((g) => g.name !== '' && g.name === words[0]);
  if (group && words.length === 1) return groupHelp(group);
  throw new UsageError(`There is no command "${clip(words.join(' '))}". Run "boxkeep help" to see the commands.`, 'boxkeep help [<command>]');
}

const REFS = '<box>, <snapshot> and <image> accept an id or a name.';

export function overallHelp(home: string): string {
  return [
    'boxkeep: lightweight QEMU virtual machines ("boxes") with a snapshot tree.',
    `Usage: ${TOP_USAGE}`,
    ...groups.map((g) => `${g.title}:\n${listing(entries.filter((e) => e.group === g))}`),
    [
      'Global options:',
      '  --home DIR   The Boxkeep home, shared with the app. Default: $BOXKEEP_HOME, else',
      `               $XDG_DATA_HOME/boxkeep or ~/.local/share/boxkeep (here: ${home}).`,
      '  --json       Print the result as JSON on stdout; errors as {"error":{"code","message"}} on stderr.',
      '  -h, --help   Show help. "boxkeep help <command>" shows one command.',
      '  --version    Print the version.',
    ].join('\n'),
    `${REFS} Put -- before a name that starts with "-".`,
    'Exit codes: 0 done, 2 bad arguments, 3 not found, 4 already exists, 5 wrong state (e.g. the box is running), 1 anything else.',
  ].join('\n\n');
}

export function commandHelp(e: Entry): string {
  const parts = [`Usage: ${e.usage}`, e.command.summary];
  if (e.command.details) parts.push(e.command.details);
  const refs = /<(box|snapshot|image)>/.test(e.command.usage) ? REFS + ' ' : '';
  parts.push(`${refs}Global options (--home DIR, --json) are described by "boxkeep help".`);
  return parts.join('\n\n');
}

export function groupHelp(group: CommandGroup): string {
  return `${group.title}:\n\n${listing(entries.filter((e) => e.group === group))}\n\nRun "boxkeep help ${group.name} <command>" for one command.`;
}

function listing(list: Entry[]): string {
  return list.map((e) => `  ${e.usage}\n      ${e.command.summary}`).join('\n');
}
