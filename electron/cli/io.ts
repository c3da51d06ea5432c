// Where the CLI's output goes. main() takes this instead of touching process.*, so tests run
// it in-process and read exactly what a user would see.
import { processTerminal, type TerminalIo } from './attach.js';

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Progress lines are drawn only on a terminal. */
  stderrIsTTY: boolean;
  /** Terminal widths; undefined when the stream is a pipe or a file. */
  stdoutColumns?: number;
  stderrColumns?: number;
  /** Relative paths on the command line are relative to this. */
  cwd: string;
  now(): number;
  /**
   * Asks a person a question and resolves to their answer line, or null when input ended
   * (Ctrl+D). Absent unless stdin and stderr are both a terminal: scripts are never asked.
   */
  ask?(question: string): Promise<string | null>;
  /** The process's stdin/stdout as a terminal (box console --attach); made only when asked for. */
  terminal?(): TerminalIo;
}

export function processIo(): Io {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    stdoutColumns: process.stdout.isTTY ? process.stdout.columns : undefined,
    stderrColumns: process.stderr.isTTY ? process.stderr.columns : undefined,
    cwd: process.cwd(),
    now: () => Date.now(),
    ask: process.stdin.isTTY && process.stderr.isTTY ? askOnTerminal : undefined,
    terminal: processTerminal,
  };
}

// readline is loaded only when a question is asked: every command would pay for it otherwise.
async function askOnTerminal(question: string): Promise<string | null> {
  const { createInterface } = await import('node:readline');
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    rl.once('close', () => {
      if (!answered) {
        process.stderr.write('\n');
        resolve(null);
      }
    });
  });
}
