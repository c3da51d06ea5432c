// What a command is: its usage line (parsed by args.ts, printed by help.ts), a one-line
// summary, and run(), which calls the typed API and returns the channel's result together
// with how to show it to a person. A group of commands is one table in commands/<group>.ts.
import type { Api } from '../../shared/client.js';
import type { RecoveryReport } from '../../shared/types.js';
import type { ParsedArgs, ValueKind } from './args.js';
import type { TerminalIo } from './attach.js';
import type { Io } from './io.js';

export interface Ctx {
  args: ParsedArgs;
  api: Api;
  /** The clock, for relative times. */
  now: number;
  /** Columns of the terminal stdout goes to; undefined when it is a file or pipe. */
  width: number | undefined;
  /** What recovery did when this process opened the home; null when the home was already open elsewhere. */
  openedWith: RecoveryReport | null;
  /** Asks the person at the terminal; absent without one and with --json (see Io.ask). */
  ask?: (question: string) => Promise<string | null>;
  /** The process's own stdin/stdout as a terminal to attach (box console --attach); absent in tests that run main() alone. */
  terminal?: () => TerminalIo;
}

export interface StandaloneCtx {
  home: string;
  args: ParsedArgs;
  io: Io;
  env: Record<string, string | undefined>;
  json: boolean;
  /** Resolves when the command should stop; defaults to SIGINT or SIGTERM. */
  until?: Promise<unknown>;
}

/** What a command prints: its result as JSON with --json, or as text for people. */
export interface CommandOutput {
  /** Printed as-is with --json: the channel's result. */
  value: unknown;
  /** Printed for people; may fetch more (names for ids) since it only runs without --json. */
  text: () => string | Promise<string>;
  /** The process's exit code when the command ran but found something wrong (`check`); default 0. */
  exitCode?: number;
  /** The command has already shown everything (an attached terminal): nothing is printed after it, not even with --json. */
  silent?: boolean;
}

export interface Command {
  /** Without the leading "boxkeep", e.g. `snapshot create <box> [<name>] [--description D]`. */
  usage: string;
  summary: string;
  /** More help: shown by `boxkeep help <command>` under the summary. */
  details?: string;
  /** Positionals and flags read as numbers or paths; the rest is text. */
  kinds?: Record<string, ValueKind>;
  /** Rules that span several arguments; runs before the home is opened. Returns the problem, or null. */
  check?(args: ParsedArgs): string | null;
  run(ctx: Ctx): Promise<CommandOutput>;
  /**
   * The command calls only the read channels (core/reads.ts): with no owner running, the home is
   * opened for reading (core/reader.ts) instead of with the whole engine.
   */
  readOnly?: boolean;
  /** The command reports what recovery did itself, so main() does not announce it first. */
  showsRecovery?: boolean;
  /**
   * A long-running command that takes the home itself (or forwards to its owner), like
   * `serve`: main() hands over to it instead of opening the engine, and exits with its code.
   */
  standalone?(ctx: StandaloneCtx): Promise<number>;
}

export interface CommandGroup {
  /** The first word of its commands ('box'), or '' for top-level commands. */
  name: string;
  title: string;
  commands: Command[];
}

export const output = (value: unknown, text: () => string | Promise<string>): CommandOutput => ({ value, text });

/** Leaves out keys whose value is undefined, so inputs carry only what the user gave. */
export function given<T extends Record<string, unknown>>(input: T): T {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as T;
}

/** Typed readers for parsed arguments: the parser already enforced presence and kind. */
export const arg = (a: ParsedArgs, name: string) => a.pos[name] as string;
export const optArg = (a: ParsedArgs, name: string) => a.pos[name];
export const opt = (a: ParsedArgs, name: string) => a.flags[name] as string | undefined;
export const num = (a: ParsedArgs, name: string) => a.flags[name] as number | undefined;
export const on = (a: ParsedArgs, name: string) => a.flags[name] === true;
