// Where the CLI's output goes. main() takes this instead of touching process.*, so tests run
// it in-process and read exactly what a user would see.
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
  };
}
