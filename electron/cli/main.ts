// The `boxkeep` command line: parse, open the engine, run one command, print, exit code.
// main() is the whole program minus the process; runProcess() binds it to the real one.
import { BoxkeepError, EXIT_CODES } from '../../shared/errors.js';
import { defaultHome } from '../core/home.js';
import { jsonLogger } from '../core/logger.js';
import { UsageError, flagLabels, parseArgs, parseGlobal, wantsJson } from './args.js';
import { resolve } from './help.js';
import { flushProcessIo, processIo, type Io } from './io.js';
import { connect, type Invoker } from './invoker.js';
import { commandApi } from './api.js';
import { ProgressLine } from './progress.js';
import { version } from '../core/version.js';

export type Env = Record<string, string | undefined>;

export async function main(argv: string[], env: Env, io: Io): Promise<number> {
  const json = wantsJson(argv);
  const progress = io.stderrIsTTY && !json ? new ProgressLine(io.stderr, io.stderrColumns) : null;
  try {
    const global = parseGlobal(argv, io.cwd);
    const home = global.home ?? defaultHome(env);
    if (global.version) {
      io.stdout(json ? JSON.stringify({ version: version() }) + '\n' : `boxkeep ${version()}\n`);
      return 0;
    }
    const found = resolve(global.rest, global.help, home);
    if (found.kind === 'help') {
      io.stdout(found.text + '\n');
      return 0;
    }
    const { entry } = found;
    const args = parseArgs(found.tokens, entry.sig, { kinds: entry.command.kinds, cwd: io.cwd, usage: entry.usage });
    const problem = entry.command.check?.(args);
    if (problem) throw new UsageError(problem, entry.usage);
    if (entry.command.standalone) return await entry.command.standalone({ home, args, io, env, json });

    const invoker = await connect(home, { logger: env.BOXKEEP_LOG ? jsonLogger(io.stderr) : undefined, readOnly: entry.command.readOnly === true });
    const opened = invoker.openedWith;
    if (!json && opened && opened.items.length > 0 && !entry.command.showsRecovery) {
      // Recovery ran because this command opened the home; say so, or it would go unnoticed.
      io.stderr(opened.items.map((item) => `boxkeep: recovery ${item.level === 'repaired' ? 'repaired' : item.level === 'kept' ? 'kept' : 'noted'}: ${item.message}\n`).join(''));
    }
    const { value, text, exitCode, silent } = await withInvoker(invoker, async () => {
      const off = progress ? invoker.on('tasks:progress', (p) => progress.update(p)) : () => {};
      try {
        const labels = flagLabels(entry.sig);
        const api = commandApi(invoker, labels);
        const result = await entry.command.run({ args, api, now: io.now(), width: io.stdoutColumns, openedWith: invoker.openedWith, ask: json ? undefined : io.ask, terminal: io.terminal });
        // The human text may look names up, so it is made while the engine is still open.
        return { value: result.value, text: json || result.silent ? '' : await result.text(), exitCode: result.exitCode ?? 0, silent: result.silent === true };
      } finally {
        off();
        progress?.clear();
      }
    });
    if (silent) return exitCode;
    if (json) io.stdout(JSON.stringify(value ?? null, null, 2) + '\n');
    else if (text) io.stdout(text + '\n');
    return exitCode;
  } catch (err) {
    progress?.clear();
    const e = BoxkeepError.from(err);
    io.stderr(json ? JSON.stringify({ error: e.toWire() }) + '\n' : humanError(e));
    return EXIT_CODES[e.code] ?? 1;
  }
}

/** Runs `work`, then closes the engine; a failure to close is reported only if the work succeeded. */
async function withInvoker<T>(invoker: Invoker, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (err) {
    await invoker.close().catch(() => {});
    throw err;
  }
  await invoker.close();
  return result;
}

function humanError(e: BoxkeepError): string {
  const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ');
  if (e instanceof UsageError) {
    return `boxkeep: ${oneLine(e.problem)}\n` + (e.usage ? `usage: ${e.usage}\n` : '');
  }
  return `boxkeep: ${oneLine(e.message)}\n`;
}


/** The bin's entry: real argv, env and streams; exits once the output is flushed. */
export async function runProcess(): Promise<void> {
  const code = await main(process.argv.slice(2), process.env, processIo());
  process.exitCode = code;
  await flushProcessIo();
  // The engine is closed; anything still holding the loop (a stray timer) must not keep a
  // finished command alive.
  process.exit(code);
}
