// `boxkeep box console <box> --attach`: this terminal joined to the box's serial terminal.
// On a TTY: raw mode (every key goes to the guest), Ctrl-] detaches, and the terminal is put
// back however it ends. Otherwise it is a pipe for scripts: what stdin gives is sent, what
// the guest prints comes out on stdout, and it ends --linger seconds after stdin does.
//
// The guest's bytes go to the terminal as they are, escape sequences included: that is what
// a terminal is for here (the tail, `box console` without --attach, cleans them instead).
import type { ByteStream, StreamEnd } from '../../shared/streams.js';

/** Ctrl-]: the detach key of telnet and `virsh console`. */
export const DETACH = 0x1d;

/** What attach needs of the process's terminal; tests pass their own. */
export interface TerminalIo {
  isTTY: boolean;
  /** Raw mode on a TTY (no line editing, no echo, no signals from keys). */
  setRaw(raw: boolean): void;
  onInput(listener: (bytes: Uint8Array) => void): void;
  onInputEnd(listener: () => void): void;
  pauseInput(): void;
  resumeInput(): void;
  /** Lets the process end without stdin holding it open. */
  releaseInput(): void;
  /** Writes guest output; false when the terminal is behind (onOutputDrain follows). */
  write(bytes: Uint8Array): boolean;
  onOutputDrain(listener: () => void): void;
  /** A note for the person, on stderr. */
  note(text: string): void;
  /** SIGINT, SIGTERM, SIGHUP: the process is being ended. */
  onSignal(listener: () => void): void;
}

export type AttachEnd = { how: 'detached' } | { how: 'input-ended' } | { how: 'stream-ended'; end: StreamEnd } | { how: 'signal' };

export interface AttachOptions {
  label: string;
  /** After stdin ends (not a TTY), keep printing for this long, then close. */
  lingerMs: number;
}

export function attach(stream: ByteStream, term: TerminalIo, opts: AttachOptions): Promise<AttachEnd> {
  return new Promise((resolve) => {
    let done = false;
    let lingerTimer: ReturnType<typeof setTimeout> | null = null;
    const finish = (end: AttachEnd) => {
      if (done) return;
      done = true;
      if (lingerTimer) clearTimeout(lingerTimer);
      if (term.isTTY) term.setRaw(false);
      term.releaseInput();
      if (end.how !== 'stream-ended') stream.close({ reason: 'closed', message: 'The command-line console detached.' });
      resolve(end);
    };

    if (term.isTTY) {
      term.setRaw(true);
      term.note(`Attached to the console of ${opts.label}. Ctrl-] detaches.\r\n`);
    }
    stream.onData((bytes) => {
      if (!term.write(bytes)) stream.pause();
    });
    term.onOutputDrain(() => stream.resume());
    stream.onDrain(() => term.resumeInput());
    stream.onClose((end) => finish({ how: 'stream-ended', end }));
    term.onInput((bytes) => {
      if (done) return;
      const detachAt = term.isTTY ? bytes.indexOf(DETACH) : -1;
      const send = detachAt >= 0 ? bytes.subarray(0, detachAt) : bytes;
      if (send.length && !stream.write(send)) term.pauseInput();
      if (detachAt >= 0) finish({ how: 'detached' });
    });
    term.onInputEnd(() => {
      if (done) return;
      if (term.isTTY) return finish({ how: 'detached' });
      lingerTimer = setTimeout(() => finish({ how: 'input-ended' }), opts.lingerMs);
    });
    term.onSignal(() => finish({ how: 'signal' }));
  });
}

/** The real terminal: process.stdin/stdout/stderr. */
export function processTerminal(): TerminalIo {
  const stdin = process.stdin;
  const isTTY = stdin.isTTY === true;
  // Whatever ends the process, a terminal left in raw mode would be unusable.
  const restore = () => {
    if (isTTY && stdin.isRaw) stdin.setRawMode(false);
  };
  process.once('exit', restore);
  return {
    isTTY,
    setRaw: (raw) => {
      if (isTTY) stdin.setRawMode(raw);
    },
    onInput: (listener) => void stdin.on('data', (chunk: Buffer) => listener(chunk)),
    onInputEnd: (listener) => void stdin.once('end', listener),
    pauseInput: () => void stdin.pause(),
    resumeInput: () => void stdin.resume(),
    releaseInput: () => {
      stdin.pause();
      stdin.unref?.();
    },
    write: (bytes) => process.stdout.write(bytes),
    onOutputDrain: (listener) => void process.stdout.on('drain', listener),
    note: (text) => void process.stderr.write(text),
    onSignal: (listener) => {
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, listener);
    },
  };
}

/** What the command says when it ends, and its exit code. */
export function attachOutcome(end: AttachEnd, label: string): { message: string | null; exitCode: number } {
  switch (end.how) {
    case 'detached':
      return { message: `Detached from the console of ${label}; the box keeps running.`, exitCode: 0 };
    case 'input-ended':
      return { message: null, exitCode: 0 };
    case 'signal':
      return { message: null, exitCode: 130 };
    case 'stream-ended':
      return { message: end.end.message, exitCode: end.end.reason === 'error' ? 1 : 0 };
  }
}
