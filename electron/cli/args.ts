// The argument parser. A command's usage line is its only declaration: the same string that
// help prints is read here into positionals and flags, so the two cannot drift apart.
//
//   <box>            required positional        [<name>]          optional positional
//   --image <image>  required flag with a value [--memory MiB]    optional flag with a value
//   [--force]        switch                     [--a A --b B]     several optional flags
//   [--forward SPEC]...  a flag that may be given again: its values come as a list
import path from 'node:path';
import { BoxkeepError } from '../../shared/errors.js';
import type { FieldLabel } from '../../shared/validate.js';

export interface PositionalSpec {
  name: string;
  required: boolean;
}

export interface FlagSpec {
  name: string;
  /** The value's placeholder as written in the usage line; null for a switch. */
  value: string | null;
  required: boolean;
  /** Written `[--flag V]...`: may be given more than once, its values read as a list. */
  repeatable?: true;
}

export interface Signature {
  /** The command words, e.g. ['snapshot', 'create']. */
  words: string[];
  positionals: PositionalSpec[];
  flags: FlagSpec[];
}

/** How a positional or flag value is read: as text (default), a whole number, or a path made absolute. */
export type ValueKind = 'text' | 'int' | 'path';

export interface ParsedArgs {
  pos: Record<string, string | undefined>;
  flags: Record<string, string | number | boolean | string[] | undefined>;
}

/** A command line that does not fit the command: InvalidArgument, carrying the usage line. */
export class UsageError extends BoxkeepError {
  constructor(
    readonly problem: string,
    readonly usage: string | null,
  ) {
    super('InvalidArgument', usage ? `${problem} Usage: ${usage}` : problem);
  }
}

export function parseUsage(usage: string): Signature {
  const words: string[] = [];
  const positionals: PositionalSpec[] = [];
  const flags: FlagSpec[] = [];
  let depth = 0;
  const tokens = usage.trim().split(/\s+/);
  for (let i = 0; i < tokens.length; i++) {
    let token = tokens[i];
    const opens = token.match(/^\[*/)![0].length;
    depth += opens;
    token = token.slice(opens);
    const closes = token.match(/\]*$/)![0].length;
    token = token.slice(0, token.length - closes);
    const required = depth === 0;
    if (token.startsWith('--')) {
      const next = tokens[i + 1];
      // A flag's value is the next token unless that starts another flag or group; a
      // closing bracket on the flag itself makes it a switch.
      const takesValue = closes === 0 && next !== undefined && !next.startsWith('--') && !next.startsWith('[');
      if (takesValue) {
        i++;
        let raw = tokens[i];
        const repeatable = raw.endsWith('...');
        if (repeatable) raw = raw.slice(0, -3);
        const valueCloses = raw.match(/\]*$/)![0].length;
        flags.push({ name: token.slice(2), value: raw.slice(0, raw.length - valueCloses), required, ...(repeatable ? { repeatable: true as const } : {}) });
        depth -= valueCloses;
        continue;
      }
      flags.push({ name: token.slice(2), value: null, required });
    } else if (token.startsWith('<')) {
      positionals.push({ name: token.replace(/^<|>$/g, ''), required });
    } else if (depth === 0 && positionals.length === 0 && flags.length === 0) {
      words.push(token);
    } else {
      throw new Error(`Bad usage line ${JSON.stringify(usage)} at ${JSON.stringify(tokens[i])}.`);
    }
    depth -= closes;
  }
  if (depth !== 0) throw new Error(`Unbalanced brackets in usage line ${JSON.stringify(usage)}.`);
  return { words, positionals, flags };
}

export interface ParseOptions {
  kinds?: Record<string, ValueKind>;
  /** Directory relative paths are resolved against. */
  cwd: string;
  /** Shown in errors: the full usage line. */
  usage: string;
}

/** Reads `tokens` (what follows the command words) against the signature. */
export function parseArgs(tokens: string[], sig: Signature, opts: ParseOptions): ParsedArgs {
  const fail = (problem: string): never => {
    throw new UsageError(problem, opts.usage);
  };
  const byName = new Map(sig.flags.map((f) => [f.name, f]));
  const flags: ParsedArgs['flags'] = {};
  const loose: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < tokens.length; i++) {
    const given = tokens[i];
    // A short spelling stands for its long flag only where the command has that flag.
    const token = !onlyPositionals && SHORT_FLAGS[given] && byName.has(SHORT_FLAGS[given]) ? `--${SHORT_FLAGS[given]}` : given;
    if (onlyPositionals || token === '-' || !token.startsWith('-')) {
      loose.push(token);
      continue;
    }
    if (token === '--') {
      onlyPositionals = true;
      continue;
    }
    if (!token.startsWith('--')) fail(`Unknown option ${quote(token)}.`);
    const eq = token.indexOf('=');
    const name = token.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) fail(`Unknown option ${quote('--' + name)}${suggest(name, [...byName.keys()])}.`);
    if (flags[name] !== undefined && !spec!.repeatable) fail(`The option --${name} is given twice.`);
    if (spec!.value === null) {
      if (eq >= 0) fail(`The option --${name} is a switch and takes no value.`);
      flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = token.slice(eq + 1);
    else {
      value = tokens[i + 1];
      // A following known option means the value was forgotten, not that it is the value.
      if (value === undefined || (value.startsWith('--') && (value === '--' || byName.has(value.slice(2).split('=')[0])))) {
        fail(`The option --${name} needs a value (${spec!.value}).`);
      }
      i++;
    }
    const converted = convert(value!, opts.kinds?.[name] ?? 'text', `--${name}`, opts, fail);
    flags[name] = spec!.repeatable ? [...((flags[name] as string[] | undefined) ?? []), String(converted)] : converted;
  }
  for (const spec of sig.flags) {
    if (spec.required && flags[spec.name] === undefined) fail(`The option --${spec.name}${spec.value ? ' ' + spec.value : ''} is required.`);
  }
  const pos: ParsedArgs['pos'] = {};
  const missing = sig.positionals.filter((p, i) => p.required && loose[i] === undefined);
  if (missing.length) fail(`Missing ${missing.map((p) => `<${p.name}>`).join(' and ')}.`);
  if (loose.length > sig.positionals.length) {
    const extra = loose.slice(sig.positionals.length);
    // The usual cause with names: a space that the shell split into two words.
    const hint = sig.positionals.length > 0 && !extra.some((e) => e.startsWith('-')) ? ' (quote a name that contains spaces)' : '';
    fail(`Unexpected ${extra.length === 1 ? 'argument' : 'arguments'} ${extra.map(quote).join(' ')}${hint}.`);
  }
  sig.positionals.forEach((p, i) => {
    if (loose[i] !== undefined) pos[p.name] = convert(loose[i], opts.kinds?.[p.name] ?? 'text', `<${p.name}>`, opts, fail) as string;
  });
  return { pos, flags };
}

function convert(raw: string, kind: ValueKind, what: string, opts: ParseOptions, fail: (p: string) => never): string | number {
  if (kind === 'int') {
    if (!/^\d{1,15}$/.test(raw.trim())) fail(`${what} must be a whole number, not ${quote(raw)}.`);
    return Number(raw.trim());
  }
  if (kind === 'path') {
    if (raw === '') fail(`${what} must not be empty: give a file path.`);
    // The channel schema wants absolute paths; the user means paths relative to where they are.
    return path.resolve(opts.cwd, raw);
  }
  return raw;
}

/** Short spellings people expect from other tools (`-o FILE`, as curl and cc take it). */
const SHORT_FLAGS: Record<string, string> = { '-o': 'output' };

/** Channel fields whose flag is not spelled like the field. */
const FIELD_FLAGS: Record<string, string> = {
  diskSizeGiB: 'disk-size',
  memoryMib: 'memory',
  kernelPath: 'kernel',
  initrdPath: 'initrd',
  snapshotCurrentFirst: 'snapshot-current-first',
  stopFirst: 'stop-first',
  startAfter: 'start-after',
  forwards: 'forward',
  stopTimeoutSec: 'stop-timeout',
  cloudInitUser: 'user',
  cloudInitPassword: 'password-file',
  cloudInitSshKeys: 'ssh-key',
  cloudInitHostname: 'hostname',
  everyMinutes: 'every',
  dailyAt: 'daily',
  beforeStop: 'before-stop',
  keepLast: 'keep-last',
  keepHourly: 'keep-hourly',
  keepDaily: 'keep-daily',
  keepWeekly: 'keep-weekly',
  keepMonthly: 'keep-monthly',
};

/**
 * How this command names a channel field in messages: by its flag (`--memory`, not memoryMib).
 * Positionals keep the contract's words ("The box name …"), which already say what they are.
 */
export function flagLabels(sig: Signature): FieldLabel {
  return (field) => {
    const flag = FIELD_FLAGS[field] ?? field;
    return sig.flags.some((f) => f.name === flag) ? `--${flag}` : undefined;
  };
}

export const quote = (text: string) => JSON.stringify(text.length > 60 ? text.slice(0, 60) + '…' : text);

/** " (did you mean --x?)" when one known word is close to what was typed. */
export function suggest(typed: string, known: string[], prefix = '--'): string {
  const best = closest(typed, known);
  return best ? ` (did you mean ${prefix}${best}?)` : '';
}

export function closest(typed: string, known: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const word of known) {
    const d = distance(typed.toLowerCase(), word.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [word, d];
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : null;
}

/** Levenshtein distance, small inputs only. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

export const GLOBAL_USAGE = 'boxkeep [--home DIR] [--json] <command>';

export interface GlobalOptions {
  /** Absolute; undefined means the default home. */
  home?: string;
  json: boolean;
  help: boolean;
  version: boolean;
  /** Everything else, in order: the command words and their arguments. */
  rest: string[];
}

/**
 * Takes the global options out of the command line wherever they stand before `--`, so both
 * `boxkeep --json box list` and `boxkeep box list --json` work.
 */
export function parseGlobal(argv: string[], cwd: string): GlobalOptions {
  const out: GlobalOptions = { json: false, help: false, version: false, rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') break;
    if (token === '--json') out.json = true;
    else if (token === '--help' || token === '-h') out.help = true;
    else if (token === '--version') out.version = true;
    else if (token === '--home' || token.startsWith('--home=')) {
      if (out.home !== undefined) throw new UsageError('The option --home is given twice.', GLOBAL_USAGE);
      const value = token === '--home' ? argv[++i] : token.slice('--home='.length);
      if (value === undefined || value === '' || (token === '--home' && value.startsWith('--'))) {
        throw new UsageError('The option --home needs a directory (DIR).', GLOBAL_USAGE);
      }
      out.home = path.resolve(cwd, value);
    } else out.rest.push(token);
  }
  out.rest.push(...argv.slice(i));
  return out;
}

/** Whether errors should come out as JSON, decided before parsing can fail. */
export const wantsJson = (argv: string[]) => {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
};
