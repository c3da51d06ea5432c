// Where the CLI's output goes. main() takes this instead of touching process.*, so tests run
// it in-process and read exactly what a user would see.
import fs from 'node:fs';
import { tty } from '../core/builtins.js';
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
  // Not process.stdin.isTTY and friends: touching those builds the stream objects.
  const stderrIsTTY = isTerminal(2);
  return {
    stdout: (text) => write(stdout, text),
    stderr: (text) => write(stderr, text),
    stderrIsTTY,
    stdoutColumns: isTerminal(1) ? process.stdout.columns : undefined,
    stderrColumns: stderrIsTTY ? process.stderr.columns : undefined,
    cwd: process.cwd(),
    now: () => Date.now(),
    ask: stderrIsTTY && isTerminal(0) ? askOnTerminal : undefined,
    terminal: processTerminal,
  };
}

/** tty.isatty(), without loading node:tty (and with it node:net and node:stream) for a pipe or a file. */
function isTerminal(fd: number): boolean {
  try {
    if (!fs.fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return tty().isatty(fd);
}

/** Resolves once everything written through processIo() has reached the kernel. */
export async function flushProcessIo(): Promise<void> {
  for (const out of [stdout, stderr]) {
    if (out.stream) await new Promise<void>((done) => out.stream!.write('', () => done()));
  }
}

// A command prints a few lines and exits, so they are written with write(2) as they come:
// process.stdout would load node:stream and build a socket or a stream for the pipe first,
// a good part of a short command's start-up. Should write(2) not take them all (a pipe
// someone else made non-blocking and that is full, a closed descriptor), that and everything
// after goes through the stream as before, in order.
interface Out {
  fd: number;
  open: () => NodeJS.WriteStream;
  stream: NodeJS.WriteStream | null;
}
const stdout: Out = { fd: 1, open: () => process.stdout, stream: null };
const stderr: Out = { fd: 2, open: () => process.stderr, stream: null };

function write(out: Out, text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  if (!out.stream) {
    try {
      while (done < bytes.length) done += fs.writeSync(out.fd, bytes, done);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') closedEarly();
    }
    out.stream = out.open();
    out.stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') closedEarly();
      throw err;
    });
  }
  out.stream.write(bytes.subarray(done));
}

// `boxkeep box list | head -1` closes the pipe early; that is not an error worth a trace.
function closedEarly(): never {
  process.exit(process.exitCode ?? 0);
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
